/* SPDX-License-Identifier: MIT */
/*
 * kldload plugin ABI: the descriptor every plugin returns from its one exported entry point.
 *
 * Rules that keep this ABI stable (see docs/plugin-abi.md):
 *  - every table that crosses the boundary starts with its own size in bytes; members are only
 *    ever appended, and a reader uses only the members both sizes cover;
 *  - only fixed-width integers and pointers cross it (no bool, enum, size_t or off_t in layouts);
 *  - constants are only ever appended, never renumbered.
 */
#ifndef KLDLOAD_PLUGIN_H
#define KLDLOAD_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of these headers. Major: incompatible change. Minor: appended members. */
#define KLD_ABI_MAJOR 1
#define KLD_ABI_MINOR 1

/* "KLDP" read as a little-endian 32-bit word. */
#define KLD_PLUGIN_MAGIC 0x50444c4bu

/* The single symbol a plugin exports. */
#define KLD_PLUGIN_ENTRY_SYMBOL "kldload_plugin_entry"

#if defined(__GNUC__)
#define KLD_EXPORT __attribute__((visibility("default")))
#else
#define KLD_EXPORT
#endif

/* Plugin kinds (uint32_t). Append only. */
#define KLD_KIND_DISTRO 1u /* a distribution driver: ops is struct kld_distro_ops */
#define KLD_KIND_MODULE 2u /* a kernel-module recipe: ops is struct kld_module_ops */

/*
 * Error codes. Functions across the ABI return 0 on success and a negative number on failure:
 * either a negative errno value or the negative of one of these codes. A plugin attaches a
 * message to a failure with kld_host.error(); it never prints.
 */
#define KLD_E_BASE        1024
#define KLD_E_NOTIMPL     (KLD_E_BASE + 0) /* the plugin does not implement this operation */
#define KLD_E_VERIFY      (KLD_E_BASE + 1) /* a signature, hash or size did not verify */
#define KLD_E_UNSAT       (KLD_E_BASE + 2) /* a request cannot be satisfied */
#define KLD_E_CONFIG      (KLD_E_BASE + 3) /* a configuration value is wrong */
#define KLD_E_BUILD       (KLD_E_BASE + 4) /* a build failed */
#define KLD_E_CANCELLED   (KLD_E_BASE + 5) /* the run was interrupted (SIGINT, SIGTERM) */
#define KLD_E_UNSUPPORTED (KLD_E_BASE + 6) /* target not supported (kernel, arch, release) */

struct kld_ctx;  /* opaque: one per loaded plugin, owned by the host */
struct kld_host; /* host services, see kldload/host.h */

/*
 * The descriptor. Returned by the entry point; it must be static, read-only data that lives as
 * long as the plugin is loaded. The host checks magic, abi_major, abi_minor, size and kind
 * before it calls or reads anything else.
 */
struct kld_plugin {
	uint32_t magic;     /* KLD_PLUGIN_MAGIC */
	uint16_t abi_major; /* KLD_ABI_MAJOR the plugin was built with; must equal the host's */
	uint16_t abi_minor; /* KLD_ABI_MINOR the plugin was built with; must be <= the host's */
	uint32_t size;      /* sizeof(struct kld_plugin) as the plugin was built */
	uint32_t kind;      /* KLD_KIND_* */

	/* Identity; static NUL-terminated strings owned by the plugin. name: [a-z0-9_-]+. */
	const char *name;
	const char *version;
	const char
	    *license; /* SPDX expression, e.g. "MIT", "GPL-2.0-only", "LicenseRef-Proprietary" */
	const char *origin;  /* who ships it, e.g. a URL or "kldload" */
	const char *summary; /* one line for `kldload plugins` */

	/*
	 * Optional. Called once after the checks pass. `host` stays valid until close() returns.
	 * *state may be set to anything the plugin wants handed back to its operations.
	 */
	int (*open)(struct kld_ctx *ctx, const struct kld_host *host, void **state);
	/* Optional. Called once before the plugin is unloaded; frees what open() made. */
	void (*close)(struct kld_ctx *ctx, void *state);

	/* Kind-specific operations table (starts with its own uint32_t size); static, read-only. */
	const void *ops;
};

/* The entry point: `KLD_PLUGIN_DEFINE(desc)` in exactly one source file of a plugin. */
typedef const struct kld_plugin *(*kld_plugin_entry_fn)(void);

#define KLD_PLUGIN_DEFINE(desc)                                                                    \
	KLD_EXPORT const struct kld_plugin *kldload_plugin_entry(void);                            \
	KLD_EXPORT const struct kld_plugin *kldload_plugin_entry(void)                             \
	{                                                                                          \
		return &(desc);                                                                    \
	}

/* Initialiser for the fixed head of a descriptor. */
#define KLD_PLUGIN_HEAD(kind_)                                                                     \
	.magic = KLD_PLUGIN_MAGIC, .abi_major = KLD_ABI_MAJOR, .abi_minor = KLD_ABI_MINOR,         \
	.size = sizeof(struct kld_plugin), .kind = (kind_)

/* Sizes pinned on LP64 targets: a change here is an ABI change (see docs/plugin-abi.md). */
#if defined(__LP64__) && !defined(__cplusplus)
_Static_assert(sizeof(struct kld_plugin) == 80, "struct kld_plugin changed size");
#endif

#ifdef __cplusplus
}
#endif

#endif /* KLDLOAD_PLUGIN_H */
