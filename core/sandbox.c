/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "sandbox.h"
#include "util.h"

#define NS_FLAGS                                                                                   \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC)

#define SHIM_DIR     "/.kldload/bin"
#define SANDBOX_PATH SHIM_DIR ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Everything below runs in the sandbox's child processes: failures write one line to the error
 * pipe and exit; nothing returns to the caller's code.
 */
struct child {
	const struct sandbox_opts *o;
	int err_fd;
	char staging[4096]; /* where the new root is assembled: the build root's own proc/ */
	uid_t uid;
	gid_t gid;
};

__attribute__((noreturn, format(printf, 2, 3))) static void die(struct child *c, const char *fmt,
                                                                ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(c->err_fd, buf, strlen(buf)) < 0)
		_exit(126);
	_exit(126);
}

static void write_proc(struct child *c, const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		die(c, "sandbox: cannot write %s: %s", file, strerror(errno));
	close(fd);
}

static void map_ids(struct child *c)
{
	char map[64];

	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)c->uid);
	write_proc(c, "/proc/self/uid_map", map);
	write_proc(c, "/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)c->gid);
	write_proc(c, "/proc/self/gid_map", map);
}

/* Mount flags a bind remount must keep (the kernel refuses to drop locked ones). */
static unsigned long kept_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static void bind(struct child *c, const char *src, const char *dst, int rw)
{
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		die(c, "sandbox: cannot bind %s on %s: %s", src, dst, strerror(errno));
	if (rw)
		return;
	if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(dst), NULL) < 0)
		die(c, "sandbox: cannot make %s read-only: %s", dst, strerror(errno));
}

static void make_dir(struct child *c, const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			die(c, "sandbox: cannot create %s: %s", buf, strerror(errno));
		*s = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		die(c, "sandbox: cannot create %s: %s", buf, strerror(errno));
}

static void make_file(struct child *c, const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || (text && write(fd, text, strlen(text)) < 0))
		die(c, "sandbox: cannot create %s: %s", path, strerror(errno));
	close(fd);
}

/* `rel` (absolute inside the sandbox) under the staging directory. */
static const char *staged(struct child *c, char *buf, size_t size, const char *rel)
{
	if ((size_t)snprintf(buf, size, "%s%s", c->staging, rel) >= size)
		die(c, "sandbox: path too long: %s", rel);
	return buf;
}

static int fresh_dir(const char *name)
{
	return !strcmp(name, "tmp") || !strcmp(name, "proc") || !strcmp(name, "dev") ||
	       !strcmp(name, "run") || !strcmp(name, ".kldload");
}

/* The build root's top-level entries: directories bound read-only, links copied. */
static void mount_root(struct child *c)
{
	DIR *d = opendir(c->o->root);
	struct dirent *e;

	if (!d)
		die(c, "sandbox: cannot read %s: %s", c->o->root, strerror(errno));
	while ((e = readdir(d))) {
		char src[4096], dst[4096], target[4096], rel[300];
		ssize_t n;

		if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
			continue;
		if (fresh_dir(e->d_name))
			continue;
		snprintf(rel, sizeof(rel), "/%s", e->d_name);
		staged(c, dst, sizeof(dst), rel);
		snprintf(src, sizeof(src), "%s/%s", c->o->root, e->d_name);
		if (e->d_type == DT_LNK) {
			n = readlink(src, target, sizeof(target) - 1);
			if (n < 0)
				die(c, "sandbox: %s: %s", src, strerror(errno));
			target[n] = '\0';
			if (symlink(target, dst) < 0)
				die(c, "sandbox: cannot link %s: %s", dst, strerror(errno));
		} else if (e->d_type == DT_DIR) {
			make_dir(c, dst);
			bind(c, src, dst, 0);
		}
	}
	closedir(d);
}

static void mount_dev(struct child *c)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	char path[4096], dev[4096];

	make_dir(c, staged(c, dev, sizeof(dev), "/dev"));
	if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
		die(c, "sandbox: cannot mount /dev: %s", strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		char host[64];

		snprintf(host, sizeof(host), "/dev/%s", nodes[i]);
		staged(c, path, sizeof(path), host);
		make_file(c, path, NULL, 0666);
		if (mount(host, path, NULL, MS_BIND, NULL) < 0)
			die(c, "sandbox: cannot bind %s: %s", host, strerror(errno));
	}
	static const char *const links[][2] = {{"/proc/self/fd", "fd"},
	                                       {"/proc/self/fd/0", "stdin"},
	                                       {"/proc/self/fd/1", "stdout"},
	                                       {"/proc/self/fd/2", "stderr"}};

	make_dir(c, staged(c, path, sizeof(path), "/dev/shm"));
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "/dev/%s", links[i][1]);
		if (symlink(links[i][0], staged(c, path, sizeof(path), rel)) < 0)
			die(c, "sandbox: cannot populate /dev: %s", strerror(errno));
	}
}

static void mount_proc_tmp(struct child *c)
{
	char p[4096];

	make_dir(c, staged(c, p, sizeof(p), "/proc"));
	if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die(c, "sandbox: cannot mount /proc: %s", strerror(errno));
	make_dir(c, staged(c, p, sizeof(p), "/tmp"));
	if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		die(c, "sandbox: cannot mount /tmp: %s", strerror(errno));
	make_dir(c, staged(c, p, sizeof(p), "/run"));
}

/* A `uname` that names the target's kernel release instead of the host's. */
static void write_uname_shim(struct child *c)
{
	struct utsname u;
	char script[2048], host[256] = "", p[4096];
	size_t j = 0;

	make_dir(c, staged(c, p, sizeof(p), SHIM_DIR));
	if (!c->o->kernel_release)
		return;
	if (uname(&u) < 0)
		die(c, "sandbox: uname: %s", strerror(errno));
	for (const char *s = u.release; *s && j + 5 < sizeof(host); s++) {
		if (strchr(".[]*^$\\|&", *s)) {
			host[j++] = '[';
			host[j++] = *s;
			host[j++] = ']';
		} else {
			host[j++] = *s;
		}
	}
	host[j] = '\0';
	snprintf(script, sizeof(script),
	         "#!/bin/sh\n"
	         "# kldload: builds are for kernel %s, never for the build host's kernel.\n"
	         "/usr/bin/uname \"$@\" | /usr/bin/sed 's|%s|%s|g'\n",
	         c->o->kernel_release, host, c->o->kernel_release);
	make_file(c, staged(c, p, sizeof(p), SHIM_DIR "/uname"), script, 0755);
}

static void mount_binds(struct child *c)
{
	for (size_t i = 0; i < c->o->n_binds; i++) {
		const struct sandbox_bind *b = &c->o->binds[i];
		char dst[4096];

		if (b->dst[0] != '/')
			die(c, "sandbox: bind target %s is not absolute", b->dst);
		make_dir(c, staged(c, dst, sizeof(dst), b->dst));
		bind(c, b->src, dst, b->flags & SANDBOX_BIND_RW);
	}
}

static void enter_root(struct child *c)
{
	if (chdir(c->staging) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		die(c, "sandbox: pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		die(c, "sandbox: cannot detach the host's root: %s", strerror(errno));
	if (chdir("/") < 0 || mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		die(c, "sandbox: cannot make / read-only: %s", strerror(errno));
	if (sethostname("kldload", 7) < 0)
		die(c, "sandbox: sethostname: %s", strerror(errno));
	if (chdir(c->o->cwd ? c->o->cwd : "/") < 0)
		die(c, "sandbox: cannot enter %s: %s", c->o->cwd, strerror(errno));
}

static void setup_mounts(struct child *c)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die(c, "sandbox: cannot make mounts private: %s", strerror(errno));
	if (mount("tmpfs", c->staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		die(c, "sandbox: cannot mount the new root: %s", strerror(errno));
	mount_root(c);
	mount_dev(c);
	mount_proc_tmp(c);
	write_uname_shim(c);
	mount_binds(c);
	enter_root(c);
}

static char **make_env(const struct sandbox_opts *o)
{
	static const char *const base[] = {"PATH=" SANDBOX_PATH, "HOME=/tmp",   "TMPDIR=/tmp",
	                                   "LC_ALL=C",           "TERM=dumb",   "SHELL=/bin/sh",
	                                   "USER=root",          "LOGNAME=root"};
	size_t n = ARRAY_SIZE(base), k = 0;
	char **env;

	for (size_t i = 0; o->env && o->env[i]; i++)
		n++;
	env = xcalloc(n + 1, sizeof(*env));
	for (size_t i = 0; i < ARRAY_SIZE(base); i++)
		env[k++] = (char *)base[i];
	for (size_t i = 0; o->env && o->env[i]; i++)
		env[k++] = (char *)o->env[i];
	return env;
}

__attribute__((noreturn)) static void exec_command(struct child *c)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int out = c->o->out_fd >= 0 ? c->o->out_fd : null;
	char **env = make_env(c->o);

	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		die(c, "sandbox: cannot set up standard streams: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(c, "sandbox: no_new_privs: %s", strerror(errno));
	environ = env;
	execvpe(c->o->argv[0], (char *const *)c->o->argv, env);
	die(c, "sandbox: cannot run %s: %s", c->o->argv[0], strerror(errno));
}

/* PID 1 of the new PID namespace: set up, run the command, reap everything, pass on its status. */
__attribute__((noreturn)) static void run_init(struct child *c)
{
	int status = 0, code = 127;
	pid_t cmd, p;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setup_mounts(c);
	cmd = fork();
	if (cmd < 0)
		die(c, "sandbox: fork: %s", strerror(errno));
	if (cmd == 0)
		exec_command(c);
	close(c->err_fd);
	while ((p = wait(&status)) != -1 || errno == EINTR) {
		if (p != cmd)
			continue;
		code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	_exit(code);
}

__attribute__((noreturn)) static void run_outer(struct child *c)
{
	int status;
	pid_t init;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(NS_FLAGS) < 0)
		die(c, "sandbox: cannot create namespaces: %s", strerror(errno));
	map_ids(c);
	init = fork();
	if (init < 0)
		die(c, "sandbox: fork: %s", strerror(errno));
	if (init == 0)
		run_init(c);
	close(c->err_fd);
	if (waitpid(init, &status, 0) < 0)
		_exit(127);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static int check_paths(const struct sandbox_opts *o, char *staging, size_t size)
{
	if (!is_dir(o->root))
		return err_set(-ENOENT, "build root %s is not a directory", o->root);
	for (size_t i = 0; i < o->n_binds; i++)
		if (!path_exists(o->binds[i].src))
			return err_set(-ENOENT, "sandbox bind %s does not exist", o->binds[i].src);
	if ((size_t)snprintf(staging, size, "%s/proc", o->root) >= size)
		return err_set(-ENAMETOOLONG, "build root path too long: %s", o->root);
	if (!is_dir(staging))
		return err_set(-ENOENT, "build root %s has no proc/ directory", o->root);
	return 0;
}

static int wait_child(const struct sandbox_opts *o, pid_t pid, int *status)
{
	struct timespec tick = {0, 50 * 1000 * 1000};
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return err_set(-errno, "waitpid: %s", strerror(errno));
		if (o->cancelled && o->cancelled(o->cancel_arg)) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return err_set(-ECANCELED, "build cancelled");
		}
		nanosleep(&tick, NULL);
	}
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

int sandbox_run(const struct sandbox_opts *o, int *status)
{
	struct child c = {.o = o, .uid = geteuid(), .gid = getegid()};
	int fds[2], r, st = 0;
	char msg[1024];
	ssize_t got;
	pid_t pid;

	if ((r = check_paths(o, c.staging, sizeof(c.staging))) < 0)
		return r;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set(-errno, "pipe: %s", strerror(errno));
	c.err_fd = fds[1];
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return err_set(-errno, "fork: %s", strerror(errno));
	}
	if (pid == 0)
		run_outer(&c);
	close(fds[1]);
	r = wait_child(o, pid, &st);
	got = read(fds[0], msg, sizeof(msg) - 1);
	close(fds[0]);
	if (!r && got > 0) {
		msg[got] = '\0';
		r = err_set(-EPERM, "%s", msg);
	}
	if (!r)
		*status = st;
	return r;
}

int sandbox_available(void)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return 0;
	if (pid == 0)
		_exit(unshare(NS_FLAGS) < 0 ? 1 : 0);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		err_set(-EPERM, "this host does not allow user namespaces (sandbox unavailable)");
		return 0;
	}
	return 1;
}
