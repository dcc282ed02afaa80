# src/run: spawning function processes (namespaces, mounts, cgroups, RunAs)
# and their rotated logs. Every src/run/*.c joins the static library.
file(GLOB EDGEML_RUN_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
if(EDGEML_RUN_SRC)
  add_library(edgeml_run STATIC ${EDGEML_RUN_SRC})
  target_include_directories(edgeml_run PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  list(APPEND EDGEML_CLI_LIBS edgeml_run)
endif()
