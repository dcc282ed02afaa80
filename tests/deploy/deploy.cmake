# edgeml deploy / edgeml status end to end (src/deploy/dep_{state,deploy}.c,
# src/cli/cmd_{deploy,status}.c): file:// sources, then the loopback S3
# harness (skips, 77, without node or s3rver).
if(TARGET edgeml_deploy AND TARGET edgeml)
  add_test(NAME deploy_cmd
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/deploy_test.py $<TARGET_FILE:edgeml>
            ${CMAKE_CURRENT_LIST_DIR}/s3 ${CMAKE_CURRENT_BINARY_DIR}/deploy_work)
  set_tests_properties(deploy_cmd PROPERTIES LABELS deploy TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
