# The sign stage compresses signed modules the way the target kernel reads them.
pkg_check_modules(LIBLZMA REQUIRED IMPORTED_TARGET liblzma)
pkg_check_modules(LIBZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
target_link_libraries(kldcore PUBLIC PkgConfig::LIBLZMA PkgConfig::LIBZSTD PkgConfig::ZLIB)
