/* SPDX-License-Identifier: MIT */
/*
 * kldload plugin ABI: the services the host lends to plugins.
 *
 * A plugin calls nothing of the core except through this table. The table starts with its size;
 * members are only appended. A plugin built against a newer minor must check that a member is
 * covered before it calls it: KLD_HOST_HAS(host, member).
 *
 * Threading: every service may be called from the thread that called the plugin's operation.
 * Strings returned by the host are owned by the host and stay valid until the plugin is closed,
 * unless said otherwise beside the member.
 */
#ifndef KLDLOAD_HOST_H
#define KLDLOAD_HOST_H

#include <stdint.h>
#include <kldload/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Log levels (uint32_t). Quiet by default: the user sees ERROR and WARN. */
#define KLD_LOG_ERROR 0u
#define KLD_LOG_WARN  1u
#define KLD_LOG_INFO  2u
#define KLD_LOG_DEBUG 3u
#define KLD_LOG_TRACE 4u

#if defined(__GNUC__)
#define KLD_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define KLD_PRINTF(fmt, args)
#endif

/* Purposes of a module's need (uint32_t). Append only. */
#define KLD_NEED_SOURCE  1u /* carries the module's source, e.g. a -dkms package */
#define KLD_NEED_BUILD   2u /* needed in the build root besides the kernel's headers and compiler */
#define KLD_NEED_RUNTIME 3u /* installed on the target beside the module, e.g. its userland */
/*
 * Since ABI 1.1 (check host->abi_minor >= 1 before using them; a 1.0 host refuses them):
 *  CMDLINE: `package` is a kernel command-line option that the target needs whenever this
 *           module is in the image, e.g. "modprobe.blacklist=nouveau"; the distro driver puts
 *           it on the installer's and the installed system's command line.
 *  INITRAMFS: `package` is the name of one of the recipe's kernel modules (as modprobe knows
 *           it, e.g. "nvidia-drm") that must be in the installed system's initramfs.
 */
#define KLD_NEED_CMDLINE   4u
#define KLD_NEED_INITRAMFS 5u
/*
 * Since ABI 1.1: a source archive that is not a distribution package. `package` is
 * "<url> <sha256>": an http://, https:// or file:// URL and the SHA-256 of the file (64 hex
 * digits). The host downloads it into its cache before the build, refuses it unless the hash
 * matches, and unpacks it (any tar or zip that libarchive reads, safely) under
 * KLD_BUILD_SOURCE_DIR in the build's work directory (see kldload/build.h).
 */
#define KLD_NEED_SOURCE_URL 6u

struct kld_need {
	uint32_t size;       /* sizeof(struct kld_need) in the host */
	uint32_t kind;       /* KLD_NEED_* */
	const char *module;  /* the recipe's name */
	const char *package; /* the dependency as the recipe wrote it */
};

struct kld_host {
	uint32_t size;       /* sizeof(struct kld_host) in the host */
	uint16_t abi_major;  /* the host's KLD_ABI_MAJOR */
	uint16_t abi_minor;  /* the host's KLD_ABI_MINOR */
	const char *version; /* the kldload release, static */

	/* Log a line in the plugin's own category (its name). No trailing newline needed. */
	void (*log)(struct kld_ctx *ctx, uint32_t level, const char *fmt, ...) KLD_PRINTF(3, 4);

	/*
	 * Attach a message to a failure and return `code` (a negative errno or -KLD_E_*), so that
	 * `return host->error(ctx, -ENOENT, "no %s", x);` reads naturally. The message should name
	 * the offending thing; the host prefixes the plugin's name.
	 */
	int (*error)(struct kld_ctx *ctx, int code, const char *fmt, ...) KLD_PRINTF(3, 4);

	/*
	 * Memory that crosses the boundary comes from here. alloc() returns zeroed memory or NULL;
	 * free(NULL) does nothing. Memory the host hands to the plugin with "caller frees" is freed
	 * with free(); memory the plugin hands to the host is taken over by the host.
	 */
	void *(*alloc)(uint64_t size);
	void *(*realloc)(void *ptr, uint64_t size);
	void (*free)(void *ptr);
	char *(*strdup)(const char *s);

	/*
	 * The plan: values every stage sees, by name. Known keys: "plugin", "modules"
	 * (comma-separated), "release", "arch", "kernel", "output", "jobs", "work_dir",
	 * "cache_dir", "stage" (the stage now running), and the keys of options that stages add
	 * (e.g. "mirror", "lock"). NULL when unset (the plugin applies its own default) or unknown.
	 */
	const char *(*plan)(struct kld_ctx *ctx, const char *key);

	/*
	 * This plugin's options, from its group in the configuration files and from
	 * `--option NAME.KEY=VALUE` on the command line (command line wins). NULL when unset.
	 * A module given as NAME:ARG (e.g. "dkms:v4l2loopback-dkms") gets ARG as option "arg".
	 */
	const char *(*option)(struct kld_ctx *ctx, const char *key);

	/*
	 * Iterate over this plugin's options: start with *iter = 0; returns 1 and sets *key and
	 * *value while there are more, then 0.
	 */
	int (*option_next)(struct kld_ctx *ctx, uint32_t *iter, const char **key,
	                   const char **value);

	/*
	 * Directories. stage_dir(ctx, NULL) is the output directory of the stage now running: it is
	 * a temporary directory that the host renames into place only when every plugin of the
	 * stage returned success, so a plugin writes there freely and never sees its half-written
	 * output survive a failure or an interruption. stage_dir(ctx, "fetch") is the completed,
	 * read-only output of an earlier stage, or NULL when it does not exist.
	 */
	const char *(*stage_dir)(struct kld_ctx *ctx, const char *stage);

	/* Non-zero once the user asked to stop (SIGINT, SIGTERM): return -KLD_E_CANCELLED soon. */
	int (*cancelled)(struct kld_ctx *ctx);

	/*
	 * Progress of long work, shown on a terminal only. `total` 0 means unknown. `what` names the
	 * work (e.g. "downloading"); call with done == total to finish the line.
	 */
	void (*progress)(struct kld_ctx *ctx, uint64_t done, uint64_t total, const char *what);

	/*
	 * Look up an optional service table by name and version, e.g. "kld.example/1". Returns a
	 * static table that starts with its uint32_t size, or NULL when this host does not offer it.
	 * Services are documented in their own headers under kldload/.
	 */
	const void *(*service)(struct kld_ctx *ctx, const char *name);

	/*
	 * For module recipes, inside kld_module_ops.declare(): state that the module needs
	 * `package` (a dependency in the distribution's own syntax, e.g. "zfs-dkms" or
	 * "wireguard-tools (>= 1.0)") for the purpose `kind` (KLD_NEED_*). Copied by the host.
	 */
	int (*need)(struct kld_ctx *ctx, uint32_t kind, const char *package);

	/*
	 * For distro drivers, typically in resolve(): ask every module recipe of the plan what it
	 * needs for the kernel `kernel_release` (as `uname -r` would print it on the target).
	 * Returns a NULL-terminated array owned by the host, valid until the plugin is closed, or
	 * NULL on failure (the message is attached to the failing recipe and reported by the host).
	 */
	const struct kld_need *const *(*module_needs)(struct kld_ctx *ctx,
	                                              const char *kernel_release);

	/*
	 * Publish a result of the stage now running: `path` is relative to the stage's output
	 * directory, `label` a word of letters, digits, '-', '_' and '.'. When the stage completes, the host places a copy of that file in the user's
	 * output directory (--output) and prints "<label>: <final path>" on stdout at the end of the
	 * run, e.g. publish(ctx, "lock", "kldload.lock"). Published again when the stage is skipped
	 * because its inputs did not change.
	 */
	int (*publish)(struct kld_ctx *ctx, const char *label, const char *path);
};

/* Does `host` (which may be older than the plugin) have `member`? */
#define KLD_HOST_HAS(host, member)                                                                 \
	((host)->size >= __builtin_offsetof(struct kld_host, member) + sizeof((host)->member) &&   \
	 (host)->member != 0)

/* The same check for any size-prefixed table. */
#define KLD_TABLE_HAS(table, type, member)                                                         \
	((table)->size >= __builtin_offsetof(type, member) + sizeof((table)->member) &&            \
	 (table)->member != 0)

/* Sizes pinned on LP64 targets; the host table grows only by appending (1.0: 144 bytes). */
#if defined(__LP64__) && !defined(__cplusplus)
_Static_assert(sizeof(struct kld_need) == 24, "struct kld_need changed size");
_Static_assert(__builtin_offsetof(struct kld_host, publish) == 136, "kld_host members moved");
#endif

#ifdef __cplusplus
}
#endif

#endif /* KLDLOAD_HOST_H */
