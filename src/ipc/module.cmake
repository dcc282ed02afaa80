# src/ipc: the socket protocol (proto.c, client.c) and the router. Every
# src/ipc/*.c joins the static library; the SDK compiles proto.c/client.c in
# itself (src/sdk/module.cmake) so that it depends on nothing of the core.
file(GLOB EDGEML_IPC_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
if(EDGEML_IPC_SRC)
  add_library(edgeml_ipc STATIC ${EDGEML_IPC_SRC})
  target_include_directories(edgeml_ipc PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  list(APPEND EDGEML_CLI_LIBS edgeml_ipc)
endif()
