# Fetch, verify, solve and lock (issue 3): libcurl for downloads, libsolv + libsolvext for the
# Debian repository reader and the solver. OpenPGP checks run the distribution's own verifier
# (gpgv or sqv) as a child process, so no OpenPGP library is linked.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(SOLV REQUIRED IMPORTED_TARGET libsolv)
pkg_check_modules(SOLVEXT REQUIRED IMPORTED_TARGET libsolvext)
target_link_libraries(kldcore PUBLIC PkgConfig::CURL PkgConfig::SOLVEXT PkgConfig::SOLV)
