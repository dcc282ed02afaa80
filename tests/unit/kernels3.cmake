# Fast kernels vs their references (issue 10), part 3: fused softmax attention,
# data movement (Transpose/Concat/Split/Slice/Gather/Reshape).
if(TARGET edgeml)
  add_test(NAME kernels_attention COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/../kernels/test_attention.py $<TARGET_FILE:edgeml>)
  set_tests_properties(kernels_attention PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
  add_test(NAME kernels_shape COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/../kernels/test_shape_fast.py $<TARGET_FILE:edgeml>)
  set_tests_properties(kernels_shape PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
