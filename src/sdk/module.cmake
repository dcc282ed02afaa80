# src/sdk: libedgeml-sdk, what functions link: a static archive and a shared
# library (only edgeml_* exported: the build hides everything else and the
# public functions are marked EDGEML_SDK_API). It compiles the protocol files
# of src/ipc in itself and depends on nothing of the core (libc + pthread).
file(GLOB EDGEML_SDK_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
if(EDGEML_SDK_SRC)
  set(EDGEML_SDK_ALL_SRC ${EDGEML_SDK_SRC} ${PROJECT_SOURCE_DIR}/src/ipc/proto.c
    ${PROJECT_SOURCE_DIR}/src/ipc/client.c ${PROJECT_SOURCE_DIR}/src/ipc/topic.c)
  add_library(edgeml_sdk_obj OBJECT ${EDGEML_SDK_ALL_SRC})
  target_include_directories(edgeml_sdk_obj PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src/ipc)
  set_target_properties(edgeml_sdk_obj PROPERTIES C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)

  add_library(edgeml_sdk_static STATIC $<TARGET_OBJECTS:edgeml_sdk_obj>)
  set_target_properties(edgeml_sdk_static PROPERTIES OUTPUT_NAME edgeml-sdk)
  target_include_directories(edgeml_sdk_static PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(edgeml_sdk_static PUBLIC Threads::Threads)

  add_library(edgeml_sdk_shared SHARED $<TARGET_OBJECTS:edgeml_sdk_obj>)
  set_target_properties(edgeml_sdk_shared PROPERTIES OUTPUT_NAME edgeml-sdk
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
  target_include_directories(edgeml_sdk_shared PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(edgeml_sdk_shared PRIVATE Threads::Threads)
  # Belt and braces: even a non-hidden internal symbol stays local.
  target_link_options(edgeml_sdk_shared PRIVATE
    "-Wl,--version-script=${CMAKE_CURRENT_LIST_DIR}/edgeml-sdk.map")
  set_property(TARGET edgeml_sdk_shared APPEND PROPERTY LINK_DEPENDS
    ${CMAKE_CURRENT_LIST_DIR}/edgeml-sdk.map)

  configure_file(${CMAKE_CURRENT_LIST_DIR}/edgeml-sdk.pc.in
    ${CMAKE_CURRENT_BINARY_DIR}/edgeml-sdk.pc @ONLY)
  install(TARGETS edgeml_sdk_static edgeml_sdk_shared
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/include/edgeml/sdk.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/edgeml)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/edgeml-sdk.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
