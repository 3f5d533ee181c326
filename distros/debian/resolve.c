/* SPDX-License-Identifier: MIT */
/*
 * resolve: load the verified indexes of the fetch stage into the solver, pick the kernel, ask
 * the module recipes what they need, solve each purpose, write the lock and download every
 * locked package into the cache (verified). With --lock FILE: no resolution, that set exactly.
 *
 * Purposes (lock tags, docs/lock-format.md):
 *   image            the installer's offline repository: Priority required (strict), important
 *                    and standard (weak), the kernel, what d-i's base system installs, the
 *                    modules' runtime needs; with Recommends, as apt installs. A second solve adds
 *                    the UEFI boot packages (they conflict with grub-pc, so not in one system).
 *   build:<krel>     the build root for kernel <krel>: Priority required, the kernel's headers,
 *                    -common, kbuild and compiler, make, libc6-dev, and the modules' build and
 *                    source needs, closed under Depends/Pre-Depends (no Recommends).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debian.h"

/* What d-i's base-installer and its standard steps add to the required/important set. */
static const char *const di_base[] = {
    "initramfs-tools", "usr-is-merged", "busybox",   "console-setup", "keyboard-configuration",
    "locales",         "tasksel",       "os-prober", "discover",      "laptop-detect",
    "grub-pc",         "apt-utils",     "kmod",      "udev",          "ifupdown",
};
/* The UEFI boot chain, installed by grub-installer on an EFI machine. */
static const char *const di_efi_amd64[] = {"grub-efi-amd64", "grub-efi-amd64-signed",
                                           "shim-signed"};

struct jobs {
	struct kld_solve_job *v;
	uint32_t n, cap;
	char **owned; /* strings to free */
	size_t n_owned;
};

static void jobs_add(struct jobs *j, const char *dep, uint32_t flags, const char *tag)
{
	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 64;
		j->v = realloc(j->v, j->cap * sizeof(*j->v));
		if (!j->v)
			abort();
	}
	j->v[j->n++] = (struct kld_solve_job){sizeof(struct kld_solve_job), flags, dep, tag};
}

static const char *jobs_keep(struct jobs *j, char *s)
{
	j->owned = realloc(j->owned, (j->n_owned + 1) * sizeof(char *));
	if (!j->owned)
		abort();
	j->owned[j->n_owned++] = s;
	return s;
}

static void jobs_clear(struct jobs *j)
{
	for (size_t i = 0; i < j->n_owned; i++)
		free(j->owned[i]);
	free(j->owned);
	free(j->v);
	*j = (struct jobs){0};
}

/* ---- loading the fetch stage's output ---- */

struct repo_line {
	char suite[256], base[2048];
};

struct loaded {
	char *codename, *version, *date; /* of the release (first suite) */
};

static void loaded_clear(struct loaded *l)
{
	free(l->codename);
	free(l->version);
	free(l->date);
}

/*
 * The name a suite has in the lock: the codename for a release asked for by its suite name
 * ("stable" -> "trixie"), so that a lock keeps meaning the same thing when stable moves on.
 */
static const char *repo_name(struct deb *d, struct kld_release *rel, const struct repo_line *r)
{
	const char *codename = d->fetch->release_field(rel, "Codename");

	return codename && !strchr(r->suite, '-') ? codename : r->suite;
}

static int add_indexes(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv, const char *fdir,
                       const struct repo_line *r, const char *name, const char *arch,
                       const char *comps, const char *date)
{
	int added = 0;

	for (const char *p = comps; p && *p;) {
		size_t n = strcspn(p, " ");

		if (memchr(p, '/', n)) { /* "updates/main": the files are under main/ */
			const char *slash = p + n;

			while (slash[-1] != '/')
				slash--;
			n -= (size_t)(slash - p);
			p = slash;
		}
		for (int i = 0; i < 3; i++) {
			static const char *const names[] = {"Packages.xz", "Packages.gz",
			                                    "Packages"};
			char *path = str_printf("%s/dists/%s/%.*s/binary-%s/%s", fdir, r->suite,
			                        (int)n, p, arch, names[i]);
			int ret = 0, found = access(path, R_OK) == 0;

			if (found)
				ret =
				    d->solve->add_debian(ctx, sv, name, r->base, name, date, path);
			free(path);
			if (ret < 0)
				return ret;
			if (found) {
				added++;
				break;
			}
		}
		p += n;
		p += strspn(p, " ");
	}
	return added;
}

static int load_suite(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv, const char *fdir,
                      const struct repo_line *r, const char *arch, struct loaded *out)
{
	char *rel_path = str_printf("%s/dists/%s/Release", fdir, r->suite);
	struct kld_release *rel = NULL;
	int ret = d->fetch->release_open(ctx, rel_path, r->suite, &rel);

	free(rel_path);
	if (ret < 0)
		return ret;
	ret = add_indexes(ctx, d, sv, fdir, r, repo_name(d, rel, r), arch,
	                  d->fetch->release_field(rel, "Components"),
	                  d->fetch->release_field(rel, "Date"));
	if (ret >= 0 && !out->codename) {
		out->codename = xstrdup_or_null(d->fetch->release_field(rel, "Codename"));
		out->version = xstrdup_or_null(d->fetch->release_field(rel, "Version"));
		out->date = xstrdup_or_null(d->fetch->release_field(rel, "Date"));
	}
	d->fetch->release_close(rel);
	return ret < 0 ? ret : 0;
}

static int load_fetched(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv, const char *arch,
                        struct loaded *out)
{
	const char *fdir = d->host->stage_dir(ctx, "fetch");
	char *path, line[4096];
	FILE *f;
	int ret = 0;

	if (!fdir)
		return d->host->error(ctx, -ENOENT, "no fetch output: run the fetch stage first");
	path = str_printf("%s/%s", fdir, REPOS_FILE);
	f = fopen(path, "re");
	if (!f) {
		ret = d->host->error(ctx, -errno, "cannot read %s", path);
		free(path);
		return ret;
	}
	while (ret == 0 && fgets(line, sizeof(line), f)) {
		struct repo_line r;

		if (sscanf(line, "%255s %2047s", r.suite, r.base) != 2)
			ret = d->host->error(ctx, -EINVAL, "%s: malformed line", path);
		else
			ret = load_suite(ctx, d, sv, fdir, &r, arch, out);
	}
	fclose(f);
	free(path);
	return ret;
}

/* ---- the kernel ---- */

/* "linux-image-<abi>-<flavour>" where <abi> is a plain version: no "-rt", "-cloud" flavours. */
static int accept_kernel(const char *name, void *arg)
{
	const char *flavour = arg;
	const char *abi = name + strlen("linux-image-");
	size_t n = strlen(abi), f = strlen(flavour);

	if (n <= f + 1 || strcmp(abi + n - f, flavour) != 0 || abi[n - f - 1] != '-')
		return 0;
	size_t dots = 0;

	for (size_t i = 0; i + 1 < n - f; i++) {
		if (abi[i] == '-' && !(abi[i + 1] >= '0' && abi[i + 1] <= '9'))
			return 0;
		dots += abi[i] == '.';
	}
	/* "6.1.0-50", "6.12.117+deb13"; not a series meta package like "6.12" */
	return abi[0] >= '0' && abi[0] <= '9' && dots >= 2;
}

/*
 * The release's default kernel: what its newest linux-image-<flavour> depends on (as a fresh
 * install gets it), so that opt-in series such as bookworm's linux-image-6.12-amd64 are not
 * picked by version alone. NULL when there is no such meta package.
 */
static char *meta_kernel(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv,
                         const char *flavour)
{
	char *meta = str_printf("linux-image-%s", flavour);
	char *deps = d->solve->depends_of(ctx, sv, meta);
	char *found = NULL;

	for (char *p = deps; p && *p && !found;) {
		size_t n = strcspn(p, ", |(");
		char *w = str_printf("%.*s", (int)n, p);

		if (!strncmp(w, "linux-image-", 12) && accept_kernel(w, (void *)flavour))
			found = w;
		else
			free(w);
		p += n;
		p += strcspn(p, ",");
		p += strspn(p, ", ");
	}
	d->host->free(deps);
	free(meta);
	return found;
}

static int pick_kernel(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv,
                       const char *flavour, char **krel, int *is_default)
{
	const char *want = d->host->plan(ctx, "kernel");
	char *name = NULL, *version = NULL;
	char *pattern = str_printf("linux-image-*-%s", flavour);
	int ret;

	*is_default = !want || !*want;
	if (*is_default) {
		char *meta = meta_kernel(ctx, d, sv, flavour);

		if (meta) {
			free(pattern);
			pattern = meta;
		}
	} else {
		const char *k = !strncmp(want, "linux-image-", 12) ? want + 12 : want;

		free(pattern);
		pattern = str_printf("linux-image-%s", k);
	}
	ret = d->solve->newest(ctx, sv, pattern, *is_default ? accept_kernel : NULL,
	                       (void *)flavour, &name, &version);
	if (ret < 0)
		ret = d->host->error(ctx, -KLD_E_UNSAT, "no kernel package %s in this release",
		                     pattern);
	free(pattern);
	if (ret < 0)
		return ret;
	*krel = xstrdup_or_null(name + strlen("linux-image-"));
	d->host->log(ctx, KLD_LOG_INFO, "kernel %s (%s %s)", *krel, name, version);
	d->host->free(name);
	d->host->free(version);
	return 0;
}

/* ---- purposes ---- */

static void add_priority(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv, struct jobs *j,
                         const char *prio, uint32_t flags)
{
	char **names = d->solve->names_by_priority(ctx, sv, prio);

	for (size_t i = 0; names && names[i]; i++)
		jobs_add(j, jobs_keep(j, xstrdup_or_null(names[i])), flags, NULL);
	for (size_t i = 0; names && names[i]; i++)
		d->host->free(names[i]);
	d->host->free(names);
}

static const char *need_tag(struct jobs *j, uint32_t kind, const char *module)
{
	const char *prefix = kind == KLD_NEED_SOURCE  ? "source:"
	                     : kind == KLD_NEED_BUILD ? "build-need:"
	                                              : "runtime:";

	return jobs_keep(j, str_printf("%s%s", prefix, module));
}

/*
 * Needs given directly (option "needs": "KIND:MODULE:PACKAGE,..." with KIND source, build or
 * runtime), for testing a driver without the recipes, or adding a package to a purpose.
 */
static void add_option_needs(struct kld_ctx *ctx, struct deb *d, struct jobs *j, uint32_t kind)
{
	const char *v = deb_setting(ctx, d, NULL, "needs");
	const char *want = kind == KLD_NEED_SOURCE  ? "source"
	                   : kind == KLD_NEED_BUILD ? "build"
	                                            : "runtime";

	for (const char *p = v; p && *p;) {
		size_t n = strcspn(p, ",");
		char *item = str_printf("%.*s", (int)n, p);
		char *mod = strchr(item, ':'), *pkg = mod ? strchr(mod + 1, ':') : NULL;

		if (pkg) {
			*mod++ = '\0';
			*pkg++ = '\0';
			if (!strcmp(item, want))
				jobs_add(j, jobs_keep(j, xstrdup_or_null(str_trim(pkg))), 0,
				         need_tag(j, kind, mod));
		}
		free(item);
		p += n;
		p += strspn(p, ",");
	}
}

static void add_needs(struct jobs *j, const struct kld_need *const *needs, uint32_t kind)
{
	for (size_t i = 0; needs && needs[i]; i++)
		if (needs[i]->kind == kind)
			jobs_add(j, needs[i]->package, 0, need_tag(j, kind, needs[i]->module));
}

/* Solve, after writing the request to <resolve>/request: "<label> <strict|weak> <dep>". */
static int run_solve(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv, const char *purpose,
                     const char *label, const struct jobs *j, uint32_t flags)
{
	for (uint32_t i = 0; d->request && i < j->n; i++)
		fprintf(d->request, "%s %s %s\n", label,
		        j->v[i].flags & KLD_SOLVE_WEAK ? "weak" : "strict", j->v[i].dep);
	return d->solve->solve(ctx, sv, purpose, j->v, j->n, flags);
}

static int solve_image(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv, const char *krel,
                       const char *flavour, int is_default, const struct kld_need *const *needs,
                       const char *arch)
{
	struct jobs j = {0};
	int ret;

	add_priority(ctx, d, sv, &j, "required", 0);
	add_priority(ctx, d, sv, &j, "important", KLD_SOLVE_WEAK);
	add_priority(ctx, d, sv, &j, "standard", KLD_SOLVE_WEAK);
	for (size_t i = 0; i < sizeof(di_base) / sizeof(di_base[0]); i++)
		jobs_add(&j, di_base[i], KLD_SOLVE_WEAK, NULL);
	jobs_add(&j, jobs_keep(&j, str_printf("linux-image-%s", krel)), 0, "kernel");
	if (is_default)
		jobs_add(&j, jobs_keep(&j, str_printf("linux-image-%s", flavour)), KLD_SOLVE_WEAK,
		         NULL);
	add_needs(&j, needs, KLD_NEED_RUNTIME);
	add_option_needs(ctx, d, &j, KLD_NEED_RUNTIME);
	ret = run_solve(ctx, d, sv, "image", "image", &j, KLD_SOLVE_RECOMMENDS);
	jobs_clear(&j);
	if (ret < 0 || strcmp(arch, "amd64") != 0)
		return ret;
	for (size_t i = 0; i < sizeof(di_efi_amd64) / sizeof(di_efi_amd64[0]); i++)
		jobs_add(&j, di_efi_amd64[i], KLD_SOLVE_WEAK, NULL);
	ret = run_solve(ctx, d, sv, "image", "image-efi", &j, 0);
	jobs_clear(&j);
	return ret;
}

/* The kernel's own build packages, read from its headers package's Depends. */
static void add_kernel_build(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv,
                             struct jobs *j, const char *krel)
{
	const char *htag = jobs_keep(j, str_printf("headers:%s", krel));
	const char *ctag = jobs_keep(j, str_printf("compiler:%s", krel));
	char *headers = str_printf("linux-headers-%s", krel);
	char *deps = d->solve->depends_of(ctx, sv, headers);

	jobs_add(j, jobs_keep(j, headers), 0, htag);
	for (char *p = deps; p && *p;) {
		size_t n = strcspn(p, ", |(");
		char *w = str_printf("%.*s", (int)n, p);
		int gcc_ver = 0;

		if (!strncmp(w, "linux-headers-", 14) || !strncmp(w, "linux-kbuild-", 13))
			jobs_add(j, jobs_keep(j, xstrdup_or_null(w)), 0, htag);
		else if (sscanf(w, "gcc-%d", &gcc_ver) == 1 && !strchr(w + 4, '-'))
			jobs_add(j, jobs_keep(j, xstrdup_or_null(w)), 0, ctag);
		else if (sscanf(w, "linux-compiler-gcc-%d", &gcc_ver) == 1) {
			jobs_add(j, jobs_keep(j, xstrdup_or_null(w)), 0, ctag);
			jobs_add(j, jobs_keep(j, str_printf("gcc-%d", gcc_ver)), 0, ctag);
		}
		free(w);
		p += n;
		p += strcspn(p, ",");
		p += strspn(p, ", ");
	}
	d->host->free(deps);
}

static int solve_build(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv, const char *krel,
                       const struct kld_need *const *needs)
{
	struct jobs j = {0};
	char *purpose = str_printf("build:%s", krel);
	int ret;

	add_priority(ctx, d, sv, &j, "required", 0);
	add_kernel_build(ctx, d, sv, &j, krel);
	jobs_add(&j, "make", 0, NULL);
	jobs_add(&j, "libc6-dev", 0, NULL);
	add_needs(&j, needs, KLD_NEED_BUILD);
	add_needs(&j, needs, KLD_NEED_SOURCE);
	add_option_needs(ctx, d, &j, KLD_NEED_BUILD);
	add_option_needs(ctx, d, &j, KLD_NEED_SOURCE);
	ret = run_solve(ctx, d, sv, purpose, purpose, &j, 0);
	jobs_clear(&j);
	free(purpose);
	return ret;
}

static const char *default_flavour(const char *arch)
{
	const char *v = arch;

	if (!strcmp(arch, "i386"))
		v = "686-pae";
	return v;
}

static int resolve_and_lock(struct kld_ctx *ctx, struct deb *d, struct kld_solver *sv,
                            const char *arch, const char *lock_path)
{
	const char *flavour = deb_setting(ctx, d, NULL, "flavour");
	const struct kld_need *const *needs = NULL;
	struct loaded rel = {0};
	char *krel = NULL;
	int is_default = 0;
	int ret = load_fetched(ctx, d, sv, arch, &rel);

	if (!flavour)
		flavour = default_flavour(arch);
	if (ret == 0)
		ret = pick_kernel(ctx, d, sv, flavour, &krel, &is_default);
	if (ret == 0) {
		needs = d->host->module_needs(ctx, krel);
		if (!needs)
			ret = -KLD_E_UNSUPPORTED; /* the host reported the recipe's message */
	}
	if (ret == 0)
		ret = solve_image(ctx, d, sv, krel, flavour, is_default, needs, arch);
	if (ret == 0)
		ret = solve_build(ctx, d, sv, krel, needs);
	if (ret == 0) {
		struct kld_lock_info info = {sizeof(info), 0,        "debian", rel.codename,
		                             rel.version,  rel.date, arch,     krel};

		ret = d->solve->write_lock(ctx, sv, &info, lock_path);
	}
	free(krel);
	loaded_clear(&rel);
	return ret;
}

static int copy_lock(struct kld_ctx *ctx, struct deb *d, const char *from, const char *to)
{
	char *text = read_text(from);
	FILE *f;
	int ret = 0;

	if (!text)
		return d->host->error(ctx, -errno, "cannot read the lock file %s", from);
	f = fopen(to, "we");
	if (!f || fputs(text, f) < 0)
		ret = d->host->error(ctx, -EIO, "cannot write %s", to);
	if (f && fclose(f) != 0 && ret == 0)
		ret = d->host->error(ctx, -EIO, "cannot write %s", to);
	free(text);
	return ret;
}

static int no_download(struct kld_ctx *ctx, struct deb *d)
{
	const char *v = deb_setting(ctx, d, NULL, "download");

	return v && (!strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "false"));
}

int deb_resolve(struct kld_ctx *ctx, void *state)
{
	struct deb *d = state;
	const char *out = d->host->stage_dir(ctx, NULL);
	const char *given = d->host->plan(ctx, "lock");
	const char *arch = deb_setting(ctx, d, "arch", NULL);
	char *lock_path = str_printf("%s/kldload.lock", out);
	struct kld_solver *sv = NULL;
	int ret = 0;

	if (given && *given) {
		d->host->log(ctx, KLD_LOG_INFO, "using the lock %s (no resolution)", given);
		ret = d->fetch->fetch_lock(ctx, given, NULL);
		if (ret == 0)
			ret = copy_lock(ctx, d, given, lock_path);
	} else {
		char *req_path = str_printf("%s/request", out);

		d->request = fopen(req_path, "we");
		sv = d->solve->create(ctx, arch ? arch : "amd64");
		ret = sv ? resolve_and_lock(ctx, d, sv, arch ? arch : "amd64", lock_path) : -ENOMEM;
		d->solve->destroy(ctx, sv);
		if (d->request && fclose(d->request) != 0 && ret == 0)
			ret = d->host->error(ctx, -EIO, "cannot write %s", req_path);
		d->request = NULL;
		free(req_path);
		/* debian.download=no: stop at the lock (what apt-get --print-uris would give) */
		if (ret == 0 && !no_download(ctx, d))
			ret = d->fetch->fetch_lock(ctx, lock_path, NULL);
	}
	if (ret == 0 && KLD_HOST_HAS(d->host, publish))
		ret = d->host->publish(ctx, "lock", "kldload.lock");
	free(lock_path);
	return ret;
}
