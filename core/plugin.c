/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "log.h"
#include "plugin.h"
#include "util.h"

#ifndef KLDLOAD_INSTALL_PLUGIN_DIR
#define KLDLOAD_INSTALL_PLUGIN_DIR "/usr/local/lib/kldload/plugins"
#endif
#ifndef KLDLOAD_RELATIVE_PLUGIN_DIR
#define KLDLOAD_RELATIVE_PLUGIN_DIR "lib/kldload/plugins"
#endif

#if defined(__x86_64__)
#define HOST_ELF_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_ELF_MACHINE EM_AARCH64
#else
#define HOST_ELF_MACHINE EM_NONE
#endif

/* The part of the descriptor every ABI version has: what is read before anything else. */
#define DESC_HEAD_SIZE (offsetof(struct kld_plugin, kind) + sizeof(uint32_t))
/* The smallest descriptor a plugin of ABI 1.0 can have. */
#define DESC_MIN_SIZE (offsetof(struct kld_plugin, ops) + sizeof(void *))
#define OPS_MIN_SIZE  8u

const char *plugin_kind_name(uint32_t kind)
{
	switch (kind) {
	case KLD_KIND_DISTRO:
		return "distro";
	case KLD_KIND_MODULE:
		return "module";
	default:
		return "unknown";
	}
}

static int check_elf(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;

	if (fd < 0)
		return err_set(-errno, "plugin %s: cannot open: %s", path, strerror(errno));
	if (read(fd, &eh, sizeof(eh)) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return err_set(-ENOEXEC, "plugin %s: not an ELF shared object", path);
	if (eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
	    (HOST_ELF_MACHINE != EM_NONE && eh.e_machine != HOST_ELF_MACHINE))
		return err_set(-ENOEXEC,
		               "plugin %s: built for another architecture (ELF machine %u)", path,
		               (unsigned)eh.e_machine);
	if (eh.e_type != ET_DYN)
		return err_set(-ENOEXEC, "plugin %s: an ELF file but not a shared object", path);
	return 0;
}

static int valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return 0;
	return 1;
}

static int check_head(const char *path, const struct kld_plugin *d)
{
	if (d->magic != KLD_PLUGIN_MAGIC)
		return err_set(
		    -KLD_E_VERIFY,
		    "plugin %s: not a kldload plugin descriptor (magic 0x%08x, expected 0x%08x)",
		    path, d->magic, KLD_PLUGIN_MAGIC);
	if (d->abi_major != KLD_ABI_MAJOR)
		return err_set(
		    -KLD_E_VERIFY,
		    "plugin %s: built for plugin ABI %u.%u, this kldload has ABI %u.%u; rebuild it against the current SDK",
		    path, d->abi_major, d->abi_minor, KLD_ABI_MAJOR, KLD_ABI_MINOR);
	if (d->abi_minor > KLD_ABI_MINOR)
		return err_set(
		    -KLD_E_VERIFY,
		    "plugin %s: built for plugin ABI %u.%u, newer than this kldload's %u.%u; upgrade kldload or rebuild the plugin against SDK %u.%u",
		    path, d->abi_major, d->abi_minor, KLD_ABI_MAJOR, KLD_ABI_MINOR, KLD_ABI_MAJOR,
		    KLD_ABI_MINOR);
	if (d->size < DESC_MIN_SIZE)
		return err_set(
		    -KLD_E_VERIFY,
		    "plugin %s: descriptor of %u bytes is smaller than ABI %u.0 requires (%zu)",
		    path, d->size, KLD_ABI_MAJOR, (size_t)DESC_MIN_SIZE);
	if (d->kind != KLD_KIND_DISTRO && d->kind != KLD_KIND_MODULE)
		return err_set(-KLD_E_VERIFY, "plugin %s: unknown plugin kind %u (ABI %u.%u)", path,
		               d->kind, d->abi_major, d->abi_minor);
	return 0;
}

static int check_identity(const char *path, const struct kld_plugin *d)
{
	if (!valid_name(d->name))
		return err_set(
		    -KLD_E_VERIFY,
		    "plugin %s: invalid name '%s' (lower-case letters, digits, '-' and '_')", path,
		    d->name ? d->name : "(null)");
	if (!d->version || !d->license || !d->origin)
		return err_set(-KLD_E_VERIFY,
		               "plugin %s: descriptor lacks version, license or origin", path);
	if (!d->ops)
		return err_set(-KLD_E_VERIFY, "plugin %s: descriptor has no operations table",
		               path);
	return 0;
}

static int copy_ops(struct loaded_plugin *p)
{
	uint32_t size = *(const uint32_t *)p->desc.ops;
	size_t max =
	    p->desc.kind == KLD_KIND_DISTRO ? sizeof(p->ops.distro) : sizeof(p->ops.module);

	if (size < OPS_MIN_SIZE)
		return err_set(-KLD_E_VERIFY,
		               "plugin %s: operations table of %u bytes is too small", p->path,
		               size);
	memcpy(&p->ops, p->desc.ops, size < max ? size : max);
	return 0;
}

static int load_checked(struct loaded_plugin *p, uint32_t want_kind)
{
	kld_plugin_entry_fn entry;
	const struct kld_plugin *d;
	int r = check_elf(p->path);

	if (r < 0)
		return r;
	p->handle = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
	if (!p->handle)
		return err_set(-ENOEXEC, "plugin %s: cannot be loaded: %s", p->path, dlerror());
	*(void **)&entry = dlsym(p->handle, KLD_PLUGIN_ENTRY_SYMBOL);
	if (!entry)
		return err_set(-ENOEXEC, "plugin %s: no entry point %s (not a kldload plugin)",
		               p->path, KLD_PLUGIN_ENTRY_SYMBOL);
	d = entry();
	if (!d)
		return err_set(-KLD_E_VERIFY, "plugin %s: entry point returned no descriptor",
		               p->path);
	memcpy(&p->desc, d, DESC_HEAD_SIZE);
	r = check_head(p->path, &p->desc);
	if (r < 0)
		return r;
	memcpy(&p->desc, d, d->size < sizeof(p->desc) ? d->size : sizeof(p->desc));
	r = check_identity(p->path, &p->desc);
	if (r < 0)
		return r;
	if (want_kind && p->desc.kind != want_kind)
		return err_set(-KLD_E_VERIFY, "plugin %s (%s) is a %s plugin, not a %s plugin",
		               p->path, p->desc.name, plugin_kind_name(p->desc.kind),
		               plugin_kind_name(want_kind));
	return copy_ops(p);
}

int plugin_load(const char *path, uint32_t want_kind, struct loaded_plugin **ret)
{
	struct loaded_plugin *p = xcalloc(1, sizeof(*p));
	int r;

	p->path = xstrdup(path);
	r = load_checked(p, want_kind);
	if (r < 0) {
		plugin_free(p);
		return r;
	}
	p->instance = xstrdup(p->desc.name);
	p->ctx.desc = &p->desc;
	p->ctx.name = p->instance;
	log_debug("plugin", "loaded %s %s (ABI %u.%u) from %s", p->desc.name, p->desc.version,
	          p->desc.abi_major, p->desc.abi_minor, p->path);
	*ret = p;
	return 0;
}

void plugin_free(struct loaded_plugin *p)
{
	if (!p)
		return;
	if (p->opened && p->desc.close)
		p->desc.close(&p->ctx, p->ctx.state);
	if (p->handle)
		dlclose(p->handle);
	free(p->ctx.error);
	free(p->path);
	free(p->instance);
	free(p->arg);
	free(p);
}

int plugin_open(struct loaded_plugin *p, struct runner *run)
{
	int r;

	p->ctx.run = run;
	if (p->opened)
		return 0;
	if (p->desc.open) {
		r = p->desc.open(&p->ctx, &core_host, &p->ctx.state);
		if (r < 0)
			return err_set(r, "plugin %s: %s", p->instance,
			               p->ctx.error ? p->ctx.error : err_str(r));
	}
	p->opened = 1;
	return 0;
}

static void add_dir(char ***dirs, size_t *n, const char *dir)
{
	if (!dir || !*dir)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*dirs)[i], dir) == 0)
			return;
	*dirs = realloc(*dirs, (*n + 2) * sizeof(char *));
	if (!*dirs)
		abort();
	(*dirs)[(*n)++] = xstrdup(dir);
	(*dirs)[*n] = NULL;
}

static void add_dir_list(char ***dirs, size_t *n, const char *list)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;

	for (char *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save))
		add_dir(dirs, n, t);
}

/* The directory of the running program, or NULL. */
static char *program_dir(void)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (len <= 0)
		return NULL;
	exe[len] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	return xstrdup(exe);
}

static void add_dir_if_exists(char ***dirs, size_t *n, char *dir)
{
	_cleanup_free_ char *real = dir ? realpath(dir, NULL) : NULL;

	if (real && is_dir(real))
		add_dir(dirs, n, real);
	free(dir);
}

char **plugin_search_dirs(const char *plugin_path_option)
{
	char **dirs = xcalloc(1, sizeof(char *));
	size_t n = 0;
	const char *env = getenv("KLDLOAD_PLUGIN_PATH");
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	_cleanup_free_ char *user = NULL, *exe_dir = program_dir();

	if (plugin_path_option)
		add_dir_list(&dirs, &n, plugin_path_option);
	if (env)
		add_dir_list(&dirs, &n, env);
	if (xdg && *xdg)
		user = xasprintf("%s/kldload/plugins", xdg);
	else if (home && *home)
		user = xasprintf("%s/.local/share/kldload/plugins", home);
	add_dir(&dirs, &n, user);
	if (exe_dir) {
		/* Straight from the build tree, then an installation moved to another prefix. */
		add_dir_if_exists(&dirs, &n, path_join(exe_dir, "plugins"));
		add_dir_if_exists(&dirs, &n,
		                  xasprintf("%s/../%s", exe_dir, KLDLOAD_RELATIVE_PLUGIN_DIR));
	}
	add_dir(&dirs, &n, KLDLOAD_INSTALL_PLUGIN_DIR);
	return dirs;
}

int plugin_find(char *const *dirs, const char *spec, char **ret_path)
{
	if (strchr(spec, '/')) {
		if (!path_exists(spec))
			return err_set(-ENOENT, "plugin file %s does not exist", spec);
		*ret_path = xstrdup(spec);
		return 0;
	}
	if (!valid_name(spec))
		return err_set(-EINVAL, "'%s' is not a plugin name", spec);
	for (size_t i = 0; dirs[i]; i++) {
		_cleanup_free_ char *file = xasprintf("%s/%s.so", dirs[i], spec);
		if (path_exists(file)) {
			*ret_path = TAKE_PTR(file);
			return 0;
		}
	}
	return err_set(-ENOENT, "no plugin named '%s' in the plugin path", spec);
}

static int so_filter(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n > 3 && strcmp(e->d_name + n - 3, ".so") == 0;
}

void plugin_scan(char *const *dirs, plugin_visit_fn fn, void *userdata)
{
	char **seen = xcalloc(1, sizeof(char *));
	size_t n_seen = 0;

	for (size_t i = 0; dirs[i]; i++) {
		struct dirent **names = NULL;
		int n = scandir(dirs[i], &names, so_filter, alphasort);

		for (int j = 0; j < n; j++) {
			_cleanup_free_ char *path = path_join(dirs[i], names[j]->d_name);
			struct loaded_plugin *p = NULL;
			int shadowed = 0;

			free(names[j]);
			if (plugin_load(path, 0, &p) < 0) {
				fn(path, NULL, err_msg(), 0, userdata);
				continue;
			}
			for (size_t k = 0; k < n_seen; k++)
				shadowed |= strcmp(seen[k], p->desc.name) == 0;
			if (!shadowed)
				add_dir(&seen, &n_seen, p->desc.name);
			fn(path, p, NULL, shadowed, userdata);
			plugin_free(p);
		}
		free(names);
	}
	strv_free(seen);
}
