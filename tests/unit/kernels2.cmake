# Fast kernels vs their references (issue 10), part 2: RNN/GRU/LSTM,
# ConvTranspose, LayerNormalization and Resize (tests/kernels/*.py).
if(TARGET edgeml)
  foreach(t rnn convt norm_resize)
    add_test(NAME kernels_${t} COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/../kernels/test_${t}_fast.py $<TARGET_FILE:edgeml>)
    set_tests_properties(kernels_${t} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
  endforeach()
endif()
