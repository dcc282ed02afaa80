# Cross toolchain: Debian 12 gcc-arm-linux-gnueabihf (armv7-a, VFPv3-D16, hard float: Debian's
# armhf baseline, e.g. Raspberry Pi 2/3/4 with a 32-bit OS), multiarch libraries (armhf -dev
# packages: `dpkg --add-architecture armhf; apt-get install libcurl4-openssl-dev:armhf ...`).
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake
# ctest then runs the test programs under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR).
set(EDGEML_CROSS_TRIPLET arm-linux-gnueabihf)
set(EDGEML_CROSS_QEMU qemu-arm)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
