/* SPDX-License-Identifier: MIT */
/*
 * Run a command inside a build root (buildroot.h), isolated from the host:
 *  - fresh user, mount, network, PID, UTS and IPC namespaces (works as root and unprivileged:
 *    the caller's uid and gid are mapped to root inside, nothing else is mapped);
 *  - the new root is a tmpfs holding read-only bind mounts of the build root's top-level
 *    directories, a fresh /proc, a minimal /dev (null, zero, full, random, urandom, tty), an
 *    empty tmpfs /tmp, and the caller's bind mounts (read-only unless SANDBOX_BIND_RW);
 *  - no network (a new network namespace whose only interface, lo, is down);
 *  - hostname "kldload", and `uname` answers with the target's kernel release (a wrapper first in
 *    PATH), so that a stray `uname -r` cannot name the build host's kernel;
 *  - a clean environment; stdin is /dev/null; stdout and stderr go to out_fd.
 * See docs/sandbox.md.
 */
#ifndef KLDLOAD_CORE_SANDBOX_H
#define KLDLOAD_CORE_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#define SANDBOX_BIND_RW 1u

struct sandbox_bind {
	const char *src; /* host path */
	const char
	    *dst;       /* absolute path inside; its first component must not be a root directory */
	uint32_t flags; /* SANDBOX_BIND_* */
};

struct sandbox_opts {
	const char *root;           /* build root on the host */
	const char *kernel_release; /* what `uname -r` answers inside; NULL leaves uname alone */
	const struct sandbox_bind *binds;
	size_t n_binds;
	const char *cwd;          /* inside; "/" when NULL */
	const char *const *argv;  /* argv[0] is looked up in PATH inside */
	const char *const *env;   /* extra "KEY=VALUE" entries, NULL-terminated, may be NULL */
	int out_fd;               /* stdout and stderr of the command; -1 for /dev/null */
	int (*cancelled)(void *); /* polled while the command runs; non-zero kills it */
	void *cancel_arg;
};

/*
 * Run the command and wait for it. Returns 0 with *status set to its exit code (128 + signal
 * number when killed), or a negative errno with err_set() when the sandbox could not be set up
 * (-ECANCELED when cancelled).
 */
int sandbox_run(const struct sandbox_opts *opts, int *status);

/* 1 when this host lets us create the namespaces sandbox_run() needs, else 0 (message set). */
int sandbox_available(void);

#endif
