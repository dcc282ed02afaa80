# Group definitions (issue 4): parse + validate Greengrass v1 group documents.
# Included by the top CMakeLists.txt; the CLI links EDGEML_CLI_LIBS.
find_package(PkgConfig REQUIRED)
pkg_check_modules(EDGEML_JANSSON REQUIRED IMPORTED_TARGET jansson)
file(GLOB EDGEML_GROUP_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
add_library(edgeml_group STATIC ${EDGEML_GROUP_SRC})
target_include_directories(edgeml_group PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(edgeml_group PUBLIC PkgConfig::EDGEML_JANSSON)
list(APPEND EDGEML_CLI_LIBS edgeml_group)
