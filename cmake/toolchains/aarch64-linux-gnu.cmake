# Cross toolchain: Debian 12 gcc-aarch64-linux-gnu, multiarch libraries (arm64 -dev packages:
# `dpkg --add-architecture arm64; apt-get install libcurl4-openssl-dev:arm64 ...`).
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# ctest then runs the test programs under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR).
set(EDGEML_CROSS_TRIPLET aarch64-linux-gnu)
set(EDGEML_CROSS_QEMU qemu-aarch64)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
