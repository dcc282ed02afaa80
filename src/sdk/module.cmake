# src/sdk: libedgeml-sdk (static and shared), what functions link. It
# compiles the protocol files of src/ipc in itself and depends on nothing of
# the core. (Placeholder until src/sdk/*.c exist.)
file(GLOB EDGEML_SDK_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
if(EDGEML_SDK_SRC)
  add_library(edgeml_sdk_static STATIC ${EDGEML_SDK_SRC}
    ${PROJECT_SOURCE_DIR}/src/ipc/proto.c ${PROJECT_SOURCE_DIR}/src/ipc/client.c)
  set_target_properties(edgeml_sdk_static PROPERTIES OUTPUT_NAME edgeml-sdk)
  target_include_directories(edgeml_sdk_static PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src/ipc)
endif()
