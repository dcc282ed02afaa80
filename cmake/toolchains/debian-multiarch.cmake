# Shared part of the Debian cross toolchain files (aarch64-linux-gnu.cmake,
# arm-linux-gnueabihf.cmake); they set EDGEML_CROSS_TRIPLET, EDGEML_CROSS_QEMU and
# CMAKE_SYSTEM_PROCESSOR, then include this file.
#
# Debian multiarch: the target's libraries live in /usr/lib/<triplet> (the -dev:<arch> packages),
# its headers in /usr/include and /usr/include/<triplet>; the cross gcc searches both itself, so
# the sysroot is "/" and CMake needs only the library architecture. The cross C library
# (libc6-<arch>-cross) is under /usr/<triplet>, which is what qemu-user gets as its -L prefix.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${EDGEML_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${EDGEML_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${EDGEML_CROSS_TRIPLET})
set(CMAKE_AR ${EDGEML_CROSS_TRIPLET}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${EDGEML_CROSS_TRIPLET}-ranlib CACHE FILEPATH "")
set(CMAKE_STRIP ${EDGEML_CROSS_TRIPLET}-strip CACHE FILEPATH "")

# Find the target's libraries and headers, never the build machine's: /usr/<triplet> (the cross
# libc) and / (multiarch); programs (pkg-config, python3, qemu) come from the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${EDGEML_CROSS_TRIPLET} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config answers for the target only: its .pc files, none of the build machine's
# (/usr/lib/x86_64-linux-gnu/pkgconfig must not be seen). The triplet-prefixed pkg-config
# (pkgconf:<arch>) does exactly this; the host pkg-config with PKG_CONFIG_LIBDIR does the same.
if(EXISTS /usr/bin/${EDGEML_CROSS_TRIPLET}-pkg-config)
  set(PKG_CONFIG_EXECUTABLE /usr/bin/${EDGEML_CROSS_TRIPLET}-pkg-config CACHE FILEPATH "")
endif()
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${EDGEML_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# ctest runs target programs under qemu-user. Python-driven tests run the host's python3,
# which executes the target programs itself: that needs binfmt_misc (tools/test.sh --arch
# registers qemu's entry), or the tests that need it are listed as not run.
find_program(EDGEML_QEMU NAMES ${EDGEML_CROSS_QEMU} ${EDGEML_CROSS_QEMU}-static
  PATHS /usr/bin NO_CMAKE_FIND_ROOT_PATH)
if(EDGEML_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGEML_QEMU} -L /usr/${EDGEML_CROSS_TRIPLET})
endif()
