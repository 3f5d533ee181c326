# Image building (issue 6): .deb and cpio writing with libarchive (linked by build.cmake),
# SHA-512 crypt hashes for the MOK enrolment password (libxcrypt).
pkg_check_modules(LIBCRYPT REQUIRED IMPORTED_TARGET libcrypt)
target_link_libraries(kldcore PUBLIC PkgConfig::LIBCRYPT)
