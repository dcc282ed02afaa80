# Failure and crash safety of edgeml deploy (issue 4 items 3-5): EdgemlSha256
# mismatch, full disk (tmpfs; root only), server cut mid-download, kill -9 at
# each phase (EDGEML_DEPLOY_STOP_AT hook in dep_deploy.c), a reader during 20
# redeploys. file:// cases always run; the S3 ones skip (77) without node/s3rver.
if(TARGET edgeml_deploy AND TARGET edgeml)
  add_test(NAME deploy_crash
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/crash_test.py $<TARGET_FILE:edgeml>
            ${CMAKE_CURRENT_LIST_DIR}/s3 ${CMAKE_CURRENT_BINARY_DIR}/crash_work)
  set_tests_properties(deploy_crash PROPERTIES LABELS deploy TIMEOUT 600 SKIP_RETURN_CODE 77)
endif()
