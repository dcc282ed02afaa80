# Fetching and S3 SigV4 (src/deploy/dep_{sigv4,fetch}.c). deploy_fetch starts
# the loopback S3 harness (tests/deploy/s3: s3rver behind a SigV4-checking
# proxy; npm ci installs s3rver) and skips (77) without node or s3rver.
if(TARGET edgeml_deploy)
  add_executable(sigv4_test ${CMAKE_CURRENT_LIST_DIR}/sigv4_test.c)
  target_link_libraries(sigv4_test PRIVATE edgeml_deploy)
  add_test(NAME deploy_sigv4 COMMAND sigv4_test)

  add_executable(fetch_test ${CMAKE_CURRENT_LIST_DIR}/fetch_test.c)
  target_link_libraries(fetch_test PRIVATE edgeml_deploy)
  add_test(NAME deploy_fetch
    COMMAND fetch_test ${CMAKE_CURRENT_LIST_DIR}/s3 ${CMAKE_CURRENT_BINARY_DIR}/fetch_work)
  set_tests_properties(deploy_sigv4 deploy_fetch PROPERTIES LABELS deploy TIMEOUT 180)
  set_tests_properties(deploy_fetch PROPERTIES SKIP_RETURN_CODE 77)
endif()
