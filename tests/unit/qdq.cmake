# int8 inference (issue 10): the QDQ graph pass (src/infer/opt/qdq.c) and the int8 kernels
# (src/infer/cpu/qgemm*.c, src/infer/ops/nn_qconv_fast.c) vs the references and ORT.
if(TARGET edgeml)
  add_test(NAME kernels_qconv COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/../kernels/test_qconv_fast.py $<TARGET_FILE:edgeml>)
  set_tests_properties(kernels_qconv PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
  add_test(NAME kernels_convint COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/../kernels/test_convint_fast.py $<TARGET_FILE:edgeml>)
  set_tests_properties(kernels_convint PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
  add_test(NAME models_qdq_mobilenet COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_qdq_model.py $<TARGET_FILE:edgeml>)
  set_tests_properties(models_qdq_mobilenet PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
