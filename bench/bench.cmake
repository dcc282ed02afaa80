# ctest for the issue 10 comparison harness (bench/compare.py), label "bench": one tiny model
# from the ONNX backend test data, 1 run per side at 1 and 2 threads, through the whole harness
# (edgeml bench --json and tools/ort_bench.js parsed, baselines, FLOPs, roofline, footprint,
# markdown). It shows the harness works end to end; it asserts nothing about speed.
# Skipped (exit 77) when node/onnxruntime-node or numpy/onnx for /usr/bin/python3 are missing.
# Included from the top CMakeLists.txt:  include(bench/bench.cmake OPTIONAL)
if(TARGET edgeml)
  if(NOT ONNX_TESTDATA)
    set(ONNX_TESTDATA /usr/share/libonnx-testdata/data)
  endif()
  set(EDGEML_BENCH_MODEL ${ONNX_TESTDATA}/node/test_basic_conv_with_padding/model.onnx)
  if(EXISTS ${EDGEML_BENCH_MODEL})
    add_test(NAME bench_compare
      COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/compare.py
        --edgeml $<TARGET_FILE:edgeml> --build-dir ${CMAKE_BINARY_DIR}
        --models none --model ${EDGEML_BENCH_MODEL} --threads 1,2 --quick --no-fetch
        --markdown ${CMAKE_BINARY_DIR}/bench_compare.md)
  else()
    add_test(NAME bench_compare
      COMMAND sh -c "echo 'bench_compare: skipped: no ${EDGEML_BENCH_MODEL} (apt-get install libonnx-testdata)'; exit 77")
  endif()
  set_tests_properties(bench_compare PROPERTIES LABELS bench SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
