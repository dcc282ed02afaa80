# Fast kernels vs their references (issue 10): the GEMM engine, convolutions.
add_executable(test_gemm ${CMAKE_CURRENT_LIST_DIR}/test_gemm.c)
target_include_directories(test_gemm PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../src/infer)
target_link_libraries(test_gemm PRIVATE edgeml_static)
add_test(NAME kernels_gemm COMMAND test_gemm)
if(TARGET edgeml)
  add_test(NAME kernels_conv COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/../kernels/test_conv_fast.py $<TARGET_FILE:edgeml>)
  set_tests_properties(kernels_conv PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
