# src/deploy: fetch, verify, unpack, store (issue 4). Every src/deploy/*.c
# joins the static library, so the module's files need no edit here.
find_package(PkgConfig REQUIRED)
pkg_check_modules(DEP_ARCHIVE REQUIRED IMPORTED_TARGET libarchive)
pkg_check_modules(DEP_CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
pkg_check_modules(DEP_CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(DEP_SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(DEP_JANSSON REQUIRED IMPORTED_TARGET jansson)
file(GLOB EDGEML_DEPLOY_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
add_library(edgeml_deploy STATIC ${EDGEML_DEPLOY_SRC})
target_include_directories(edgeml_deploy PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(edgeml_deploy PUBLIC PkgConfig::DEP_ARCHIVE PkgConfig::DEP_CRYPTO
  PkgConfig::DEP_CURL PkgConfig::DEP_SQLITE PkgConfig::DEP_JANSSON)
list(APPEND EDGEML_CLI_LIBS edgeml_deploy)
