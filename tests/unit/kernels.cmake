# Fast kernels vs their references (issue 10): the GEMM engine, convolutions.
add_executable(test_gemm ${CMAKE_CURRENT_LIST_DIR}/test_gemm.c)
target_include_directories(test_gemm PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../src/infer)
target_link_libraries(test_gemm PRIVATE edgeml_static)
add_test(NAME kernels_gemm COMMAND test_gemm)
