/* SPDX-License-Identifier: MIT */
/*
 * kldload plugin ABI: kernel-module recipes (KLD_KIND_MODULE).
 *
 * A recipe says where a module's source comes from and how it is built; the host does the rest.
 * A NULL operation means the recipe does not implement it.
 */
#ifndef KLDLOAD_MODULE_H
#define KLDLOAD_MODULE_H

#include <stdint.h>
#include <kldload/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kld_module_ops {
	uint32_t size; /* sizeof(struct kld_module_ops) as the plugin was built */
	uint32_t reserved0;

	/*
	 * Called by the host when a distro driver asks for the modules' needs for the kernel
	 * `kernel_release`: the recipe calls host->need() for each package it needs, or returns
	 * -KLD_E_UNSUPPORTED with a message when it cannot support that kernel at all.
	 */
	int (*declare)(struct kld_ctx *ctx, void *state, const char *kernel_release);

	/*
	 * Stage "build-modules": build the module for the plan's kernel. Artifacts go under
	 * host->stage_dir(ctx, NULL).
	 */
	int (*build)(struct kld_ctx *ctx, void *state);
};

#if defined(__LP64__) && !defined(__cplusplus)
_Static_assert(__builtin_offsetof(struct kld_module_ops, build) == 16,
               "kld_module_ops members moved");
#endif

#ifdef __cplusplus
}
#endif

#endif /* KLDLOAD_MODULE_H */
