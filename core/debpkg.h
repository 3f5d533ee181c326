/* SPDX-License-Identifier: MIT */
/*
 * Debian binary packages and initramfs archives with libarchive: read a .deb's control file,
 * extract its data member, write a .deb (ar: debian-binary, control.tar.xz, data.tar.xz) and a
 * gzip-compressed newc cpio of a tree. Everything written is deterministic: sorted members,
 * owner root:root, every timestamp `epoch`. Errors: 0 or a negative code with err_set().
 */
#ifndef KLDLOAD_CORE_DEBPKG_H
#define KLDLOAD_CORE_DEBPKG_H

#include <stdint.h>
#include <kldload/image.h>

/* The control file of `deb` (malloc'd, NUL-terminated). */
int debpkg_control(const char *deb, char **text);

/*
 * Extract the data member of `deb` below `dest` (created). Refuses absolute paths, ".." and
 * writing through symbolic links; ownership is not restored, set-id bits are dropped.
 */
int debpkg_extract(const char *deb, const char *dest);

/* Write the package `spec` describes to `output` (temporary name, then rename). */
int debpkg_write(const struct kld_deb_spec *spec, const char *output);

/* Write the tree `dir` as a gzip-compressed newc cpio to `output`. */
int cpio_write_tree(const char *dir, const char *output, int64_t epoch);

/* SOURCE_DATE_EPOCH when set and valid, else `fallback`. */
int64_t debpkg_epoch(int64_t fallback);

/* The value of field `name` in a control text (malloc'd, continuation lines kept), or NULL. */
char *control_field(const char *control, const char *name);

#endif
