/* SPDX-License-Identifier: MIT */
/*
 * Build roots: a directory tree laid out from a target distribution's own .deb files, in which
 * module builds run (see sandbox.h). Nothing is installed on the host and no maintainer script
 * runs; the few things a package manager would have done are done by buildroot_fixup().
 *
 * Layout on disk, for a root at R:
 *   R/                     the tree itself (merged /usr: bin, sbin, lib* are links into usr/)
 *   R/var/lib/dpkg/info/<package>.list   the files each package brought, as dpkg records them
 *   R/var/lib/kldload/packages           one "<package> <version> <sha256 of the .deb>" a line
 * and, with an unpack cache at U (buildroot_create()), U/<sha256 of a .deb>/ laid out as a root
 * holding that package alone.
 */
#ifndef KLDLOAD_CORE_BUILDROOT_H
#define KLDLOAD_CORE_BUILDROOT_H

#include <stddef.h>

/*
 * Extract the data member of one .deb into `root` (which exists). Entries are written with
 * libarchive's secure-extract flags: no absolute paths, no "..", no writing through a symlink;
 * set-id bits are dropped and ownership is not restored. Paths under bin/, sbin/ and lib*\/ are
 * written under usr/ (a merged-/usr root). Records the package's file list.
 */
int buildroot_extract_deb(const char *root, const char *deb);

/*
 * Unpack a source archive (a tar in any compression libarchive reads, or a zip) into `dir`, which
 * exists, with the protections of buildroot_extract_deb() and no merged-/usr mapping. Runs in a
 * child process, so it is safe to call from several threads.
 */
int buildroot_unpack(const char *dir, const char *archive);

/*
 * Lay out a complete build root at `root` from `n` .deb files (later ones win where two ship the
 * same file), whose sha256s are `sums` when the caller has them (NULL: computed): build it in "<root>.tmp-<pid>", apply buildroot_fixup(), then rename into place.
 * Nothing exists at `root` on failure. Extraction runs in child processes, so it is safe to call
 * from several threads.
 *
 * With `unpack_cache` (a directory on the same file system as `root`), each .deb is extracted
 * once into <unpack_cache>/<sha256 of the .deb>/ (in parallel, one per CPU) and the root is made
 * of hard links to those files: a second root that shares most packages costs seconds and no
 * space. The files are shared, so nothing may write into a root's files in place (the sandbox
 * mounts roots read-only). NULL extracts straight into the root.
 */
int buildroot_create(const char *root, const char *const *debs, const char *const *sums, size_t n,
                     const char *unpack_cache);

/* What a package manager would have done: merged-/usr links, alternatives, /etc/passwd. */
int buildroot_fixup(const char *root);

/*
 * Read `path` (absolute, as seen inside the root) with every symlink resolved inside the root
 * (openat2 RESOLVE_IN_ROOT), so an absolute link never escapes to the host. *data is malloc'd and
 * NUL-terminated.
 */
int buildroot_read(const char *root, const char *path, char **data, size_t *len);
/* 1 when `path` (inside the root) exists, 0 when not. */
int buildroot_exists(const char *root, const char *path);

/* The target kernel's configuration: /lib/modules/<release>/build/.config inside the root. */
int buildroot_kernel_config(const char *root, const char *release, char **data, size_t *len);

/*
 * Value of `symbol` (e.g. "CONFIG_WIREGUARD") in kernel configuration text: "y", "m", a quoted
 * string as written, or NULL when unset. malloc'd.
 */
char *kconfig_value(const char *config, const char *symbol);

/*
 * The first file that `package` brought into the root whose path ends with `suffix` (e.g.
 * "/dkms.conf"), as an absolute path inside the root. malloc'd; -ENOENT when none.
 */
int buildroot_package_file(const char *root, const char *package, const char *suffix, char **path);

#endif
