# Graph optimisation at load (src/infer/opt/, issue 10): every pass on small models built at test
# time (test_opt.py, python3-onnx), optimisation on vs off and vs NumPy, the optimised graph's
# shape via `edgeml inspect --optimized`, negative cases and bad models; test_opt_api checks the
# C API controls (EDGEML_LOAD_NO_OPT, edgeml_model_node) and the invariants (opt/verify.c).
add_executable(test_opt_api ${CMAKE_CURRENT_LIST_DIR}/test_opt_api.c)
target_include_directories(test_opt_api PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../src/infer)
target_link_libraries(test_opt_api PRIVATE edgeml_static m)
if(TARGET edgeml)
  add_test(NAME opt COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_opt.py $<TARGET_FILE:edgeml>
                            $<TARGET_FILE:test_opt_api>)
  set_tests_properties(opt PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
