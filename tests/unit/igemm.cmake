# Integer GEMM unit test (src/infer/ops/nn_igemm.c): every variant vs a naive loop.
add_executable(test_igemm ${CMAKE_CURRENT_LIST_DIR}/test_igemm.c)
target_include_directories(test_igemm PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../src/infer ${CMAKE_CURRENT_LIST_DIR}/../../src/infer/ops)
target_link_libraries(test_igemm PRIVATE edgeml_static)
add_test(NAME igemm COMMAND test_igemm)
