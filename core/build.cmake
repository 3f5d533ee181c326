# Module builds (issue 4): build roots are laid out from .deb files with libarchive.
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
target_link_libraries(kldcore PUBLIC PkgConfig::LIBARCHIVE)
