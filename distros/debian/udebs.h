/* SPDX-License-Identifier: MIT */
/* The installer's udebs for an offline install (internal to this plugin; see udebs.c). */
#ifndef KLDLOAD_DEBIAN_UDEBS_H
#define KLDLOAD_DEBIAN_UDEBS_H

#include <stdint.h>
#include <kldload/image.h>

#include "debian.h"

struct udeb_job {
	struct deb *d;
	struct kld_ctx *ctx;
	const struct kld_image *im;
	const char *fetch_dir;    /* the fetch stage's output */
	const char *suite, *base; /* dists/<suite> as fetched, and the archive's base URL */
	const char *arch;
	const char *kabi;          /* the installer kernel's release, e.g. 6.1.0-50-amd64 */
	const char *initrd_status; /* /var/lib/dpkg/status of the netboot initrd */
	const char *scratch;       /* a directory to work in */
	int64_t epoch;
};

struct udeb_result {
	char **files; /* .udeb files: fetched and checked, or stood in for */
	uint32_t n_files, n_missing;
	char *missing; /* space-separated names nothing stands in for, or NULL */
};

int udebs_gather(struct udeb_job *job, struct udeb_result *res);
void udeb_result_clear(struct udeb_result *res);

#endif
