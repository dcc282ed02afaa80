# src/core: the core daemon (event loop, router wiring, supervisor policy).
# Every src/core/*.c joins the static library.
file(GLOB EDGEML_CORE_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
if(EDGEML_CORE_SRC)
  add_library(edgeml_core STATIC ${EDGEML_CORE_SRC})
  target_include_directories(edgeml_core PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/include)
  foreach(dep edgeml_ipc edgeml_run edgeml_group)
    if(TARGET ${dep})
      target_link_libraries(edgeml_core PUBLIC ${dep})
    endif()
  endforeach()
  list(PREPEND EDGEML_CLI_LIBS edgeml_core)
endif()

# edgeml-core: the daemon alone (only the core's modules: a small RSS);
# `edgeml core` execs it when it sits beside the edgeml binary.
if(TARGET edgeml_core)
  add_executable(edgeml-core ${CMAKE_CURRENT_LIST_DIR}/bin/edgeml_core_main.c)
  target_link_libraries(edgeml-core PRIVATE edgeml_core)
  set_target_properties(edgeml-core PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
  install(TARGETS edgeml-core RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
