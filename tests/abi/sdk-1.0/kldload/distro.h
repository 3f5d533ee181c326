/* SPDX-License-Identifier: MIT */
/*
 * kldload plugin ABI: distribution drivers (KLD_KIND_DISTRO).
 *
 * A distribution driver knows where a distribution's packages live, how its metadata is
 * trusted, and how its installer media are laid out. Each operation runs one stage; a NULL
 * operation means the driver does not implement that stage, and the host says so and stops.
 * Each writes its artifacts under host->stage_dir(ctx, NULL).
 */
#ifndef KLDLOAD_DISTRO_H
#define KLDLOAD_DISTRO_H

#include <stdint.h>
#include <kldload/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kld_distro_ops {
	uint32_t size; /* sizeof(struct kld_distro_ops) as the plugin was built */
	uint32_t reserved0;

	/* Stage "fetch": download and verify the repositories' metadata. */
	int (*fetch)(struct kld_ctx *ctx, void *state);
	/* Stage "resolve": solve for the package set, write the lock, download the packages. */
	int (*resolve)(struct kld_ctx *ctx, void *state);
	/* Stage "assemble": lay out the image the way the vendor's installer is laid out. */
	int (*assemble)(struct kld_ctx *ctx, void *state);
	/* Stage "boot-config": boot loader entries, kernel command line, installer answers. */
	int (*boot_config)(struct kld_ctx *ctx, void *state);
};

#if defined(__LP64__) && !defined(__cplusplus)
_Static_assert(__builtin_offsetof(struct kld_distro_ops, boot_config) == 32,
               "kld_distro_ops members moved");
#endif

#ifdef __cplusplus
}
#endif

#endif /* KLDLOAD_DISTRO_H */
