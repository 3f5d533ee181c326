/* SPDX-License-Identifier: MIT */
/*
 * kldload service "kld.build/1": what a module recipe uses inside kld_module_ops.build().
 *
 *   const struct kld_build_service *b = host->service(ctx, KLD_BUILD_SERVICE);
 *
 * The host calls a recipe's build() once per target kernel, with the build root of that kernel
 * ready: the target distribution's own packages (the kernel's headers and kbuild, the compiler
 * that built the kernel, make, libc headers, and every package the recipes declared with
 * KLD_NEED_SOURCE or KLD_NEED_BUILD) unpacked into a directory tree. Commands run there in a
 * sandbox (fresh user, mount, PID and network namespaces, no network, read-only root, a tmpfs
 * /tmp, `uname -r` answering the target's release); see docs/sandbox.md. Paths given to and
 * returned by these functions are paths inside the build root unless said otherwise.
 *
 * Every function may only be called from the thread that runs build(), while it runs. Errors:
 * 0 or a negative errno / -KLD_E_* with the message attached to ctx (as host->error() does), so a
 * recipe can simply return the code.
 */
#ifndef KLDLOAD_BUILD_H
#define KLDLOAD_BUILD_H

#include <stdint.h>
#include <kldload/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KLD_BUILD_SERVICE "kld.build/1"

/* Where a build's writable directory is, inside the sandbox. */
#define KLD_BUILD_WORK_DIR "/kld"

/*
 * Since ABI 1.1: where the recipe's KLD_NEED_SOURCE_URL archives are unpacked before build()
 * is called, in the order they were declared (an archive's own top directory is kept, e.g.
 * /kld/source/foo-1.0/). Absent when the recipe declared none.
 */
#define KLD_BUILD_SOURCE_DIR KLD_BUILD_WORK_DIR "/source"

struct kld_build_service {
	uint32_t size; /* sizeof(struct kld_build_service) in the host */
	uint32_t reserved0;

	/* The kernel this build() call is for, as `uname -r` prints it on the target. Host-owned. */
	const char *(*kernel_release)(struct kld_ctx *ctx);

	/*
	 * The value of a symbol in the target kernel's configuration ("CONFIG_WIREGUARD"): "y",
	 * "m", or a string as written in .config (quoted); NULL when it is not set. Caller frees
	 * with host->free().
	 */
	char *(*kernel_config)(struct kld_ctx *ctx, const char *symbol);

	/*
	 * Read a file of the build root, symlinks resolved inside the root. *data is NUL-terminated
	 * (caller frees with host->free()); *len excludes the NUL. -ENOENT when it does not exist.
	 */
	int (*read_file)(struct kld_ctx *ctx, const char *path, char **data, uint64_t *len);

	/*
	 * The first file that `package` put into the build root whose path ends with `suffix`
	 * (e.g. "/dkms.conf" finds /usr/src/zfs-2.1.11/dkms.conf). Caller frees *path with
	 * host->free(). -ENOENT when the package is not in the build root or has no such file.
	 */
	int (*package_file)(struct kld_ctx *ctx, const char *package, const char *suffix,
	                    char **path);

	/*
	 * Build the DKMS source tree `source_dir` (the directory holding dkms.conf) for this
	 * kernel as `dkms build` would, and add every module it declares to the result under
	 * `dest_dir` (relative to /lib/modules/<release>; NULL for "updates/dkms", where dkms puts
	 * modules on Debian). -KLD_E_UNSUPPORTED when a BUILD_EXCLUSIVE_* rule excludes this
	 * kernel, -KLD_E_CONFIG for a bad dkms.conf, -KLD_E_BUILD when the build fails.
	 */
	int (*dkms_build)(struct kld_ctx *ctx, const char *source_dir, const char *dest_dir);

	/*
	 * Run a command in the sandbox, with `cwd` (NULL: KLD_BUILD_WORK_DIR) as working
	 * directory and `env` ("KEY=VALUE", NULL-terminated, may be NULL) added to a clean
	 * environment. Its output goes to the build log. *status: exit code, 128 + signal.
	 */
	int (*run)(struct kld_ctx *ctx, const char *const *argv, const char *cwd,
	           const char *const *env, int32_t *status);

	/*
	 * Add a built module to the result: `path` is the .ko inside the sandbox (under
	 * KLD_BUILD_WORK_DIR), `dest` its place relative to /lib/modules/<release> (e.g.
	 * "updates/dkms/foo.ko"). The host checks that its vermagic names the target kernel.
	 */
	int (*add_module)(struct kld_ctx *ctx, const char *path, const char *dest);

	/* Path of the build log on the host, for messages. Host-owned. */
	const char *(*log_path)(struct kld_ctx *ctx);
};

#ifdef __cplusplus
}
#endif

#endif /* KLDLOAD_BUILD_H */
