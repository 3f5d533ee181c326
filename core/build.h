/* SPDX-License-Identifier: MIT */
/*
 * The build-modules stage. For every kernel the lock names a build root for (tag
 * "build:<release>", see lock.h) and every module recipe of the run, the recipe's build() runs
 * with the service kld.build/1 (kldload/build.h) bound to that (kernel, recipe) pair. Pairs run in
 * parallel within --jobs (one recipe never runs twice at once: its context is shared), and make
 * gets -j<jobs> inside.
 *
 * Output (the contract the sign stage reads), under the stage's output directory:
 *   <release>/kernel.config                   the target kernel's .config from its headers
 *   <release>/modules/<module>/<path>.ko      <path> relative to /lib/modules/<release>,
 *                                             e.g. 6.1.0-50-amd64/modules/zfs/updates/dkms/zfs.ko
 * <module> is the recipe's instance name with ':' replaced by '-' ("dkms:foo" -> "dkms-foo").
 * Modules are not compressed and not signed; their .modinfo is what the build made.
 *
 * Elsewhere:
 *   <cache_dir>/build-roots/<sha256>/       build roots, keyed by the hashes of their packages
 *   <cache_dir>/build-results/<sha256>/     results, keyed by every input (see build_key())
 *   <work_dir>/build-logs/<release>/<module>.log    the build log, kept
 *   <work_dir>/build-work/<release>/<module>/        the build's writable tree, removed on success
 */
#ifndef KLDLOAD_CORE_BUILD_H
#define KLDLOAD_CORE_BUILD_H

#include <kldload/build.h>
#include "stage.h"

/* Version of the result layout and of the build logic: part of every result's cache key. */
#define BUILD_FORMAT "kldload-build/2" /* 2: dkms tree at /var/lib/dkms, writable source */

int stage_build_modules(const struct stage_env *env);

/* The service table registered as "kld.build/1" in service.c. */
extern const struct kld_build_service build_service;

/* `uname -m` of a Debian architecture name ("amd64" -> "x86_64"); the input when unknown. */
const char *build_uname_arch(const char *debian_arch);

/* The last `lines` lines of a log file, malloc'd ("" when unreadable). */
char *build_log_tail(const char *path, int lines);

/*
 * 1 when the .ko at `path` carries a vermagic that starts with "<release> ", 0 when it names
 * another kernel (message set), negative when it cannot be read or has none.
 */
int build_check_vermagic(const char *path, const char *release);

#endif
