# Vectorised math (src/infer/cpu/vmath*.c) against double libm, every variant the
# host supports; and the fast element-wise/softmax/pool/norm kernels against the
# reference kernels (EDGEML_CPU=reference) on small models made at test time.
add_executable(test_vmath ${CMAKE_CURRENT_LIST_DIR}/test_vmath.c)
target_include_directories(test_vmath PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../src/infer)
target_link_libraries(test_vmath PRIVATE edgeml_static m)
add_test(NAME vmath COMMAND test_vmath)
add_test(NAME vmath_kernels COMMAND /bin/sh -c
  "d=$(mktemp -d) && /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/vmath_models.py \"$d\" && $<TARGET_FILE:test_vmath> --models \"$d\"; rc=$?; rm -rf \"$d\"; exit $rc")
set_tests_properties(vmath vmath_kernels PROPERTIES TIMEOUT 600)
