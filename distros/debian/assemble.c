/* SPDX-License-Identifier: MIT */
/*
 * assemble: the module packages (one .deb per module and kernel), the offline repository, and
 * the installer medium's tree laid out as Debian's own (see assemble.h for the layout).
 *
 * The installer's own packages (the netboot installer, isolinux, syslinux's modules, the signed
 * shim and GRUB) are solved here, against the same verified indexes the resolve stage used,
 * into installer.lock: resolve.c does not lock them (its purposes are the installed system and
 * the build roots).
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "assemble.h"
#include "udebs.h"

/* ---- small helpers shared with bootcfg.c ---- */

char *lock_header(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p && *p != '\n';) {
		const char *eol = strchr(p, '\n');

		if (!strncmp(p, key, n) && p[n] == ':' && p[n + 1] == ' ')
			return str_printf("%.*s", (int)((eol ? eol : p + strlen(p)) - p - n - 2),
			                  p + n + 2);
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

int64_t lock_epoch(const char *text)
{
	char *date = lock_header(text, "date");
	struct tm tm = {0};
	int64_t t = 0;

	if (date && strptime(date, "%a, %d %b %Y %H:%M:%S", &tm))
		t = (int64_t)timegm(&tm);
	free(date);
	return t;
}

char *info_get(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');

		if (!strncmp(p, key, n) && p[n] == ' ')
			return str_printf("%.*s", (int)((eol ? eol : p + strlen(p)) - p - n - 1),
			                  p + n + 1);
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

int copy_file(const char *from, const char *to, unsigned mode)
{
	FILE *in = fopen(from, "re"), *out;
	char buf[65536];
	size_t n;
	int ret = 0;

	if (!in)
		return -errno;
	if (mkdir_parents(to) < 0 || !(out = fopen(to, "we"))) {
		ret = -errno;
		fclose(in);
		return ret ? ret : -EIO;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			ret = -EIO;
	if (ferror(in))
		ret = -EIO;
	fclose(in);
	if (fclose(out) != 0)
		ret = -EIO;
	if (ret == 0)
		chmod(to, mode);
	return ret;
}

int write_text(const char *path, const char *text)
{
	FILE *f;
	int ret = mkdir_parents(path);

	if (ret < 0 || !(f = fopen(path, "we")))
		return -errno;
	if (fputs(text, f) < 0)
		ret = -EIO;
	if (fclose(f) != 0)
		ret = -EIO;
	return ret;
}

/* ---- the run's state ---- */

struct asm_run {
	struct deb *d;
	struct kld_ctx *ctx;
	const struct kld_image *im;
	const char *out;
	char *lock_path, *lock_text;
	char *codename, *version, *arch, *kernel;
	char *scratch;
	int64_t epoch;
	char **debs; /* repository contents */
	uint32_t n_debs;
	struct udeb_result udebs;
};

static void run_clear(struct asm_run *r)
{
	free(r->lock_text);
	free(r->codename);
	free(r->version);
	free(r->arch);
	free(r->kernel);
	if (r->scratch) {
		const char *argv[] = {"rm", "-rf", r->scratch, NULL};
		int32_t st;

		r->im->run(r->ctx, argv, &st);
		free(r->scratch);
	}
	for (uint32_t i = 0; i < r->n_debs; i++)
		free(r->debs[i]);
	free(r->debs);
	udeb_result_clear(&r->udebs);
}

static void add_deb(struct asm_run *r, const char *file)
{
	r->debs = realloc(r->debs, (r->n_debs + 1) * sizeof(char *));
	if (!r->debs)
		abort();
	r->debs[r->n_debs++] = xstrdup_or_null(file);
}

static int fail(struct asm_run *r, int code, const char *what, const char *path)
{
	return r->d->host->error(r->ctx, code, "%s %s: %s", what, path, strerror(-code));
}

/* ---- the installer's packages ---- */

static int load_indexes(struct asm_run *r, struct kld_solver *sv)
{
	const char *fdir = r->d->host->stage_dir(r->ctx, "fetch");
	char *path = fdir ? str_printf("%s/%s", fdir, REPOS_FILE) : NULL;
	char line[4096], suite[256], base[2048];
	FILE *f = path ? fopen(path, "re") : NULL;
	int ret = 0;

	if (!f) {
		free(path);
		return r->d->host->error(r->ctx, -ENOENT, "no fetch output: run the fetch stage");
	}
	while (ret == 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %2047s", suite, base) == 2)
			for (int i = 0; ret == 0 && i < 2; i++) {
				static const char *const comps[] = {"main", "contrib"};
				char *idx = str_printf("%s/dists/%s/%s/binary-%s/Packages.xz", fdir,
				                       suite, comps[i], r->arch);

				if (access(idx, R_OK) == 0)
					ret = r->d->solve->add_debian(r->ctx, sv, suite, base,
					                              suite, NULL, idx);
				free(idx);
			}
	fclose(f);
	free(path);
	return ret;
}

/* The installer packages of this release: solved, locked in installer.lock, fetched. */
static int solve_installer(struct asm_run *r, char **lock_path)
{
	char *netboot = str_printf("debian-installer-%d-netboot-%s", atoi(r->version), r->arch);
	struct kld_solve_job jobs[] = {
	    {sizeof(jobs[0]), 0, netboot, "installer"},
	    {sizeof(jobs[0]), 0, "isolinux", "installer"},
	    {sizeof(jobs[0]), 0, "syslinux-common", "installer"},
	    {sizeof(jobs[0]), 0, "shim-signed", "installer"},
	    {sizeof(jobs[0]), 0, "grub-efi-amd64-signed", "installer"},
	};
	struct kld_solver *sv = r->d->solve->create(r->ctx, r->arch);
	char *date = lock_header(r->lock_text, "date");
	struct kld_lock_info info = {sizeof(info),     0,       "debian", r->codename, r->version,
	                             date ? date : "", r->arch, r->kernel};
	int ret = sv ? load_indexes(r, sv) : -ENOMEM;

	*lock_path = str_printf("%s/installer.lock", r->out);
	if (ret == 0)
		ret = r->d->solve->solve(r->ctx, sv, "installer", jobs, 5, 0);
	if (ret == 0)
		ret = r->d->solve->write_lock(r->ctx, sv, &info, *lock_path);
	r->d->solve->destroy(r->ctx, sv);
	free(netboot);
	free(date);
	return ret;
}

/* The packages whose files go onto the medium (the rest of installer.lock is their closure). */
static const char *const installer_pkgs[] = {"isolinux", "syslinux-common", "shim-signed",
                                             "shim-helpers-amd64-signed", "grub-efi-amd64-signed"};

static int wanted(const char *name, const char *netboot)
{
	for (size_t i = 0; i < sizeof(installer_pkgs) / sizeof(installer_pkgs[0]); i++)
		if (!strcmp(name, installer_pkgs[i]))
			return 1;
	return !strcmp(name, netboot);
}

/* Extract the installer packages from the installer lock into scratch/<name>. */
static int extract_installer(struct asm_run *r, const char *lock_path)
{
	struct kld_image_pkg **pk = NULL;
	uint32_t n = 0;
	char *netboot = str_printf("debian-installer-%d-netboot-%s", atoi(r->version), r->arch);
	uint32_t found = 0;
	int ret = r->im->lock_packages(r->ctx, lock_path, "installer", &pk, &n);

	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		char *dest;

		if (!wanted(pk[i]->name, netboot))
			continue;
		found++;
		dest = str_printf("%s/%s", r->scratch, pk[i]->name);

		r->d->host->log(r->ctx, KLD_LOG_INFO, "installer: %s %s", pk[i]->name,
		                pk[i]->version);
		ret = r->im->deb_extract(r->ctx, pk[i]->file, dest);
		free(dest);
	}
	if (ret == 0 && found < 6)
		ret = r->d->host->error(r->ctx, -KLD_E_UNSAT, "%s: only %u of 6 installer packages",
		                        lock_path, found);
	r->im->lock_packages_free(pk, n);
	free(netboot);
	return ret;
}

struct place {
	const char *pkg, *from, *to;
	unsigned mode;
};

static int place_files(struct asm_run *r, const struct place *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *from = str_printf("%s/%s/%s", r->scratch, p[i].pkg, p[i].from);
		char *to = str_printf("%s/%s", r->out, p[i].to);
		int ret = copy_file(from, to, p[i].mode);

		if (ret < 0)
			ret = r->d->host->error(r->ctx, ret,
			                        "%s has no %s (or %s cannot be written): %s",
			                        p[i].pkg, p[i].from, to, strerror(-ret));
		free(from);
		free(to);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int lay_out_installer(struct asm_run *r)
{
	char *nb = str_printf("debian-installer-%d-netboot-%s", atoi(r->version), r->arch);
	char *img = str_printf("usr/lib/debian-installer/images/%d/%s", atoi(r->version), r->arch);
	char *t[4];
	int ret;

	t[0] = str_printf("%s/text/debian-installer/%s/linux", img, r->arch);
	t[1] = str_printf("%s/text/debian-installer/%s/initrd.gz", img, r->arch);
	t[2] = str_printf("%s/gtk/debian-installer/%s/linux", img, r->arch);
	t[3] = str_printf("%s/gtk/debian-installer/%s/initrd.gz", img, r->arch);
	{
		const struct place p[] = {
		    {nb, t[0], "cd/install.amd/vmlinuz", 0644},
		    {nb, t[1], "cd/install.amd/initrd.gz", 0644},
		    {nb, t[2], "cd/install.amd/gtk/vmlinuz", 0644},
		    {nb, t[3], "cd/install.amd/gtk/initrd.gz", 0644},
		    {"isolinux", "usr/lib/ISOLINUX/isolinux.bin", "cd/isolinux/isolinux.bin", 0644},
		    {"isolinux", "usr/lib/ISOLINUX/isohdpfx.bin", "isohdpfx.bin", 0644},
		    {"syslinux-common", "usr/lib/syslinux/modules/bios/ldlinux.c32",
		     "cd/isolinux/ldlinux.c32", 0644},
		    {"syslinux-common", "usr/lib/syslinux/modules/bios/libcom32.c32",
		     "cd/isolinux/libcom32.c32", 0644},
		    {"syslinux-common", "usr/lib/syslinux/modules/bios/libutil.c32",
		     "cd/isolinux/libutil.c32", 0644},
		    {"syslinux-common", "usr/lib/syslinux/modules/bios/menu.c32",
		     "cd/isolinux/menu.c32", 0644},
		    {"shim-signed", "usr/lib/shim/shimx64.efi.signed", "cd/EFI/boot/bootx64.efi",
		     0644},
		    {"shim-helpers-amd64-signed", "usr/lib/shim/mmx64.efi.signed",
		     "cd/EFI/boot/mmx64.efi", 0644},
		    {"grub-efi-amd64-signed", "usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed",
		     "cd/EFI/boot/grubx64.efi", 0644},
		};
		ret = place_files(r, p, sizeof(p) / sizeof(p[0]));
	}
	for (int i = 0; i < 4; i++)
		free(t[i]);
	free(nb);
	free(img);
	return ret;
}

/* ---- module packages ---- */

struct mod_files {
	struct kld_deb_file *v;
	uint32_t n;
	const char *top; /* sign/<krel>/modules/<module> */
	const char *krel;
};

static struct mod_files *walk_target;
static int walk_add(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	struct mod_files *m = walk_target;
	const char *rel = path + strlen(m->top) + 1;

	(void)st, (void)f;
	if (flag != FTW_F)
		return 0;
	m->v = realloc(m->v, (m->n + 1) * sizeof(*m->v));
	if (!m->v)
		abort();
	m->v[m->n++] = (struct kld_deb_file){
	    sizeof(struct kld_deb_file), 0644, xstrdup_or_null(path),
	    strncmp(rel, "updates/", 8) ? str_printf("/lib/modules/%s/updates/%s", m->krel, rel)
	                                : str_printf("/lib/modules/%s/%s", m->krel, rel)};
	return 0;
}

/* The version of the package tagged `tag` in the lock, or NULL. */
static char *lock_version_tagged(const char *text, const char *tag)
{
	for (const char *p = strstr(text, "\n\n"); p && *p;) {
		char name[256], ver[256], tags[4096];
		const char *eol = strchr(p + 1, '\n');

		if (sscanf(p, " %255s %255s %*s %*s %*s %*s %*s %4095s", name, ver, tags) == 3 &&
		    word_in(tags, tag))
			return xstrdup_or_null(ver);
		p = eol;
	}
	return NULL;
}

static char *lock_version_of(const char *text, const char *pkg)
{
	char *needle = str_printf("\n%s ", pkg), *v = NULL;
	const char *p = strstr(text, needle);
	char ver[256];

	if (p && sscanf(p + strlen(needle), "%255s", ver) == 1)
		v = xstrdup_or_null(ver);
	free(needle);
	return v;
}

static const char *maintainer(struct asm_run *r)
{
	const char *v = r->d->host->option(r->ctx, "maintainer");

	return v && *v ? v : "kldload <kldload@example.org>";
}

static char *module_version(struct asm_run *r, const char *module)
{
	char *tag = str_printf("source:%s", module);
	char *src = lock_version_tagged(r->lock_text, tag);
	char *v = str_printf("%s+kld1", src ? src : "0");

	free(tag);
	free(src);
	return v;
}

static char *module_changelog(struct asm_run *r, const char *module, const char *krel)
{
	char *ver = module_version(r, module);
	char date[64];
	time_t t = (time_t)r->epoch;
	struct tm tm;
	char *c;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	c = str_printf("kldload-%s (%s) %s; urgency=medium\n\n"
	               "  * %s modules built for Linux %s and signed by kldload.\n\n"
	               " -- %s  %s\n",
	               module, ver, r->codename, module, krel, maintainer(r), date);
	free(ver);
	return c;
}

/*
 * What the module package provides: "<module>-modules", and whatever the package its source came
 * from provides (nvidia-kernel-dkms: "nvidia-kernel-535.261.03, ..."), since it stands in for
 * that package: a userland that depends on "nvidia-kernel-dkms | nvidia-kernel-<version>" is
 * satisfied without DKMS.
 */
static char *module_provides(struct asm_run *r, const char *module)
{
	char *tag = str_printf("source:%s", module), *text = NULL, *from = NULL;
	char *p = str_printf("%s-modules", module);
	struct kld_image_pkg **pk = NULL;
	uint32_t n = 0;

	if (r->im->lock_packages(r->ctx, r->lock_path, tag, &pk, &n) == 0 && n > 0 &&
	    r->im->deb_control(r->ctx, pk[0]->file, &text) == 0)
		from = deb_field(text, "Provides");
	for (char *save = NULL, *e = from ? strtok_r(from, ",", &save) : NULL; e;
	     e = strtok_r(NULL, ",", &save)) {
		char *t, *item = str_trim(e);
		size_t name = strcspn(item, " (");

		if (!*item || (name == strlen(module) + 8 && !strncmp(item, p, name)))
			continue; /* "zfs-modules" from zfs-dkms: already there */
		t = str_printf("%s, %s", p, item);
		free(p);
		p = t;
	}
	r->d->host->free(text);
	r->im->lock_packages_free(pk, n);
	free(from);
	free(tag);
	return p;
}

static char *module_control(struct asm_run *r, const char *module, const char *krel)
{
	char *ver = module_version(r, module);
	char *kpkg = str_printf("linux-image-%s", krel);
	char *kver = lock_version_of(r->lock_text, kpkg);
	char *provides = module_provides(r, module);
	char *c = str_printf(
	    "Package: %s-modules-%s\nSource: kldload-%s (%s)\nVersion: %s\n"
	    "Architecture: %s\nMaintainer: %s\n"
	    "Depends: %s%s%s%s\nProvides: %s\nSection: kernel\nPriority: optional\n"
	    "Description: %s kernel modules for Linux %s, built and signed by kldload\n"
	    " Kernel modules of %s, built against Linux %s,\n"
	    " signed with the image's module signing key (enrol its certificate with\n"
	    " mokutil) and installed under /lib/modules/%s/updates.\n",
	    module, krel, module, ver, ver, r->arch, maintainer(r), kpkg, kver ? " (= " : "",
	    kver ? kver : "", kver ? ")" : "", provides, module, krel, module, krel, krel);

	free(ver);
	free(kpkg);
	free(kver);
	free(provides);
	return c;
}

/* The copyright file of the package the module's source came from (tag source:<module>). */
static int source_copyright(struct asm_run *r, const char *lock_path, const char *module,
                            const char *dest)
{
	char *tag = str_printf("source:%s", module), *dir = NULL;
	struct kld_image_pkg **pk = NULL;
	uint32_t n = 0;
	int ret = r->im->lock_packages(r->ctx, lock_path, tag, &pk, &n);

	if (ret == 0 && n > 0) {
		char *from;

		dir = str_printf("%s/src-%s", r->scratch, pk[0]->name);
		from = str_printf("%s/usr/share/doc/%s/copyright", dir, pk[0]->name);
		ret = r->im->deb_extract(r->ctx, pk[0]->file, dir);
		if (ret == 0)
			ret = copy_file(from, dest, 0644) == 0 ? 1 : 0;
		free(from);
	}
	r->im->lock_packages_free(pk, n);
	free(tag);
	free(dir);
	return ret;
}

static const char copyright_fmt[] =
    "Kernel modules built by kldload from the Debian package of the %s module\n"
    "(see that package's copyright file, %s, for its authors and licence).\n\n"
    "Copyright: the authors of %s\nLicense: %s\n";

/* Did the recipe instance of `need` ("dkms:foo") build the modules of `module` ("dkms-foo")? */
static int need_of(const struct kld_need *need, const char *module)
{
	const char *a = need->module, *b = module;

	for (; *a && *b; a++, b++)
		if (*a != *b && !((*a == ':' || *a == '/') && *b == '-'))
			return 0;
	return !*a && !*b;
}

/*
 * The modules the recipe wants in the installed system's initramfs (KLD_NEED_INITRAMFS), one a
 * line as initramfs-tools' modules.d files list them; NULL when it wants none.
 */
static char *initramfs_modules(struct asm_run *r, const char *krel, const char *module)
{
	const struct kld_need *const *needs = r->d->host->module_needs(r->ctx, krel);
	char *list = NULL, *t;

	for (size_t i = 0; needs && needs[i]; i++) {
		if (needs[i]->kind != KLD_NEED_INITRAMFS || !need_of(needs[i], module))
			continue;
		t = str_printf("%s%s\n", list ? list : "", needs[i]->package);
		free(list);
		list = t;
	}
	return list;
}

/* Adds the initramfs-tools list of the recipe's early modules to the package's files. */
static int add_initramfs_list(struct asm_run *r, struct mod_files *m, const char *pkg,
                              const char *list)
{
	char *src = str_printf("%s/doc-%s/initramfs-modules", r->scratch, pkg);
	struct kld_deb_file *v;
	int ret = write_text(src, list);

	if (ret < 0) {
		ret = fail(r, ret, "cannot write", src);
		free(src);
		return ret;
	}
	v = realloc(m->v, (m->n + 1) * sizeof(*v));
	if (!v)
		abort();
	m->v = v;
	m->v[m->n++] = (struct kld_deb_file){
	    sizeof(*v), 0644, src,
	    str_printf("/usr/share/initramfs-tools/modules.d/kldload-%s.conf", pkg)};
	return 0;
}

static int write_module_deb(struct asm_run *r, const char *krel, const char *module,
                            const char *top, FILE *list)
{
	struct mod_files m = {NULL, 0, top, krel};
	char *control = module_control(r, module, krel);
	char *pkg = str_printf("%s-modules-%s", module, krel);
	char *doc = str_printf("%s/doc-%s", r->scratch, pkg);
	char *copyright = str_printf("%s/copyright", doc);
	char *text = str_printf(copyright_fmt, module, "/usr/share/doc/<module package>", module,
	                        !strcmp(module, "zfs") ? "CDDL-1.0" : "GPL-2.0");
	char *early = initramfs_modules(r, krel, module);
	char *update = early ? str_printf("\tif command -v update-initramfs >/dev/null; then\n"
	                                  "\t\tupdate-initramfs -u -k %s\n\tfi\n",
	                                  krel)
	                     : NULL;
	char *postinst = str_printf("#!/bin/sh\nset -e\nif [ \"$1\" = configure ] && "
	                            "[ -e /lib/modules/%s/modules.order ]; then\n"
	                            "\tdepmod -a %s\n%sfi\n",
	                            krel, krel, update ? update : "");
	char *postrm = str_printf("#!/bin/sh\nset -e\nif [ \"$1\" = remove ] && "
	                          "[ -e /lib/modules/%s/modules.order ]; then\n"
	                          "\tdepmod -a %s\nfi\n",
	                          krel, krel);
	char *file = str_printf("%s_%s.deb", pkg, r->arch);
	char *out = str_printf("%s/debs/%s", r->out, file);
	char *changelog = module_changelog(r, module, krel);
	int ret = source_copyright(r, r->lock_path, module, copyright);

	if (ret == 0)
		ret = write_text(copyright, text);
	ret = ret > 0 ? 0 : ret;

	walk_target = &m;
	if (ret == 0 && nftw(top, walk_add, 16, FTW_PHYS) < 0)
		ret = fail(r, -errno, "cannot read", top);
	if (ret == 0 && m.n == 0)
		ret = 1; /* nothing built (e.g. WireGuard is in the kernel) */
	if (ret == 0) {
		struct kld_deb_file *v = realloc(m.v, (m.n + 1) * sizeof(*v));

		if (!v)
			abort();
		m.v = v;
		m.v[m.n++] = (struct kld_deb_file){sizeof(*v), 0644, xstrdup_or_null(copyright),
		                                   str_printf("/usr/share/doc/%s/copyright", pkg)};
		if (early)
			ret = add_initramfs_list(r, &m, pkg, early);
	}
	if (ret == 0) {
		mkdir_parents(out);
		struct kld_deb_spec spec = {sizeof(spec), m.n,    control,  m.v,
		                            postinst,     postrm, r->epoch, changelog};
		ret = r->im->deb_write(r->ctx, &spec, out);
	}
	if (ret == 0) {
		fprintf(list, "%s %s\n", krel, file);
		add_deb(r, out);
		r->d->host->log(r->ctx, KLD_LOG_INFO, "module package %s", file);
	}
	for (uint32_t i = 0; i < m.n; i++) {
		free((char *)m.v[i].source);
		free((char *)m.v[i].path);
	}
	free(m.v);
	free(control), free(pkg), free(doc), free(copyright), free(text);
	free(postinst), free(postrm), free(file), free(out), free(changelog);
	free(early), free(update);
	return ret > 0 ? 0 : ret;
}

static int module_packages(struct asm_run *r)
{
	const char *sign = r->d->host->stage_dir(r->ctx, "sign");
	char *list_path = str_printf("%s/module-debs", r->out);
	FILE *list = fopen(list_path, "we");
	struct dirent **krels = NULL;
	int n = sign ? scandir(sign, &krels, NULL, alphasort) : -1, ret = 0;

	if (!sign)
		ret = r->d->host->error(r->ctx, -ENOENT, "no sign output: run the sign stage");
	for (int i = 0; i < n; i++) {
		char *mdir = str_printf("%s/%s/modules", sign, krels[i]->d_name);
		struct dirent **mods = NULL;
		int m = ret == 0 && krels[i]->d_name[0] != '.'
		            ? scandir(mdir, &mods, NULL, alphasort)
		            : -1;

		for (int j = 0; j < m; j++) {
			char *top = str_printf("%s/%s", mdir, mods[j]->d_name);

			if (ret == 0 && mods[j]->d_name[0] != '.')
				ret = write_module_deb(r, krels[i]->d_name, mods[j]->d_name, top,
				                       list);
			free(top);
			free(mods[j]);
		}
		free(mods);
		free(mdir);
		free(krels[i]);
	}
	free(krels);
	if (list)
		fclose(list);
	free(list_path);
	return ret;
}

/* ---- the repository ---- */

static char *repo_key_dir(struct asm_run *r)
{
	const char *v = r->d->host->option(r->ctx, "repo_key_dir");
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (v && *v)
		return xstrdup_or_null(v);
	if (xdg && *xdg)
		return str_printf("%s/kldload/repo-key", xdg);
	return str_printf("%s/.local/share/kldload/repo-key", home ? home : "/root");
}

static int make_repo(struct asm_run *r, const char *lock_path)
{
	struct kld_image_pkg **pk = NULL;
	uint32_t n = 0;
	char *key = repo_key_dir(r), *dir = str_printf("%s/cd", r->out);
	char *pub = str_printf("%s/public.gpg", key);
	char *pub_cd = str_printf("%s/cd/kldload/repo-key.gpg", r->out);
	int ret = r->im->lock_packages(r->ctx, lock_path, "image", &pk, &n);

	for (uint32_t i = 0; ret == 0 && i < n; i++)
		add_deb(r, pk[i]->file);
	if (ret == 0)
		ret = r->im->repo_key(r->ctx, key);
	if (ret == 0) {
		struct kld_repo_spec s = {.size = sizeof(s),
		                          .n_debs = r->n_debs,
		                          .dir = dir,
		                          .codename = r->codename,
		                          .version = r->version,
		                          .origin = "kldload",
		                          .arch = r->arch,
		                          .debs = (const char *const *)r->debs,
		                          .udebs = (const char *const *)r->udebs.files,
		                          .n_udebs = r->udebs.n_files,
		                          .key_dir = key,
		                          .epoch = r->epoch};

		ret = r->im->repo_write(r->ctx, &s);
	}
	if (ret == 0 && (ret = copy_file(pub, pub_cd, 0644)) < 0)
		ret = fail(r, ret, "cannot copy", pub);
	r->d->host->log(r->ctx, KLD_LOG_INFO, "offline repository: %u packages, key %s", r->n_debs,
	                key);
	r->im->lock_packages_free(pk, n);
	free(key), free(dir), free(pub), free(pub_cd);
	return ret;
}

/* ---- the installer's udebs ---- */

/* The netboot initrd's dpkg status and kernel release, read from the initrd itself. */
static int initrd_facts(struct asm_run *r, char **status, char **kabi)
{
	char *dir = str_printf("%s/initrd", r->scratch);
	char *script =
	    str_printf("mkdir -p '%s' && cd '%s' && zcat '%s/cd/install.amd/initrd.gz' | "
	               "cpio -id --quiet var/lib/dpkg/status 'lib/modules/*/modules.order' "
	               "'usr/lib/modules/*/modules.order' && "
	               "ls $(ls -d usr/lib/modules lib/modules 2>/dev/null | head -1) > kabi",
	               dir, dir, r->out);
	const char *argv[] = {"sh", "-c", script, NULL};
	char *path;
	int32_t st = 0;
	int ret = r->im->run(r->ctx, argv, &st);

	if (ret == 0 && st != 0)
		ret = r->d->host->error(r->ctx, -EBADMSG, "cannot read the installer's initrd");
	path = str_printf("%s/var/lib/dpkg/status", dir);
	if (ret == 0 && !(*status = read_text(path)))
		ret = fail(r, -EIO, "cannot read", path);
	free(path);
	path = str_printf("%s/kabi", dir);
	if (ret == 0 && !(*kabi = read_text(path)))
		ret = fail(r, -EIO, "cannot read", path);
	if (ret == 0)
		str_trim(*kabi);
	free(path), free(dir), free(script);
	return ret;
}

static int installer_udebs(struct asm_run *r)
{
	const char *fdir = r->d->host->stage_dir(r->ctx, "fetch");
	char *repos = str_printf("%s/%s", fdir, REPOS_FILE), *text = read_text(repos);
	char suite[256], base[2048], *status = NULL, *kabi = NULL;
	const char *must = r->d->host->option(r->ctx, "require_offline");
	int ret = text && sscanf(text, "%255s %2047s", suite, base) == 2
	              ? 0
	              : fail(r, -EIO, "cannot read", repos);

	if (ret == 0)
		ret = initrd_facts(r, &status, &kabi);
	if (ret == 0) {
		struct udeb_job j = {r->d,    r->ctx, r->im,  fdir,       suite,   base,
		                     r->arch, kabi,   status, r->scratch, r->epoch};

		ret = udebs_gather(&j, &r->udebs);
		/* without a verified installer index the image still boots and installs from the
		 * network: say so, and fail only when an offline install was required */
		if (ret < 0 && ret != -KLD_E_CANCELLED && !(must && atoi(must))) {
			r->d->host->log(
			    r->ctx, KLD_LOG_WARN,
			    "the installer's udeb index of %s could not be fetched or did not match "
			    "its verified Release: the image installs from the network only",
			    suite);
			udeb_result_clear(&r->udebs);
			ret = 0;
		}
	}
	if (ret == 0)
		r->d->host->log(r->ctx, KLD_LOG_INFO, "installer %s: %u udebs on the medium", kabi,
		                r->udebs.n_files);
	if (ret == 0 && r->udebs.n_missing)
		r->d->host->log(
		    r->ctx, KLD_LOG_WARN,
		    "%u installer components are on neither the mirror nor in the "
		    "release's regular packages, so the image installs from the network "
		    "only, not offline: %s",
		    r->udebs.n_missing, r->udebs.missing);
	if (ret == 0 && r->udebs.n_missing && must && atoi(must))
		ret = r->d->host->error(r->ctx, -KLD_E_UNSAT,
		                        "debian.require_offline: %u installer udebs are missing",
		                        r->udebs.n_missing);
	free(repos), free(text), free(status), free(kabi);
	return ret;
}

/* ---- .disk and the rest ---- */

static int disk_files(struct asm_run *r)
{
	const char *sign = r->d->host->stage_dir(r->ctx, "sign");
	char *cert = str_printf("%s/signing-cert.der", sign);
	char *cert_cd = str_printf("%s/cd/kldload/signing-cert.der", r->out);
	char *info = str_printf("%s/cd/.disk/info", r->out);
	char *bi = str_printf("%s/cd/.disk/base_installable", r->out);
	char *bc = str_printf("%s/cd/.disk/base_components", r->out);
	char *cn = str_printf("%c%s", r->codename[0] - 32, r->codename + 1);
	time_t t = (time_t)r->epoch;
	struct tm tm;
	char day[16], *text;
	int ret;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	text = str_printf("Debian GNU/Linux %s \"%s\" - kldload %s (%s)", r->version, cn, r->arch,
	                  day);
	ret = write_text(info, text);
	if (ret == 0)
		ret = write_text(bi, "main\n") < 0 ? -EIO : write_text(bc, "main\n");
	if (ret == 0 && (ret = copy_file(cert, cert_cd, 0644)) < 0)
		ret = fail(r, ret, "cannot copy", cert);
	else if (ret < 0)
		ret = fail(r, ret, "cannot write", info);
	free(cert), free(cert_cd), free(info), free(bi), free(bc), free(cn), free(text);
	return ret;
}

static int write_info(struct asm_run *r)
{
	char *path = str_printf("%s/info", r->out);
	char *text = str_printf("codename %s\nversion %s\narch %s\nkernel %s\nepoch %lld\n"
	                        "udebs %u\nudebs_missing %u\n",
	                        r->codename, r->version, r->arch, r->kernel, (long long)r->epoch,
	                        r->udebs.n_files, r->udebs.n_missing);
	int ret = write_text(path, text);

	if (ret < 0)
		ret = fail(r, ret, "cannot write", path);
	free(path);
	free(text);
	return ret;
}

static int load_lock(struct asm_run *r, char **lock_path)
{
	const char *rdir = r->d->host->stage_dir(r->ctx, "resolve");
	char *rel;

	if (!rdir)
		return r->d->host->error(r->ctx, -ENOENT, "no resolve output: run resolve first");
	*lock_path = str_printf("%s/kldload.lock", rdir);
	r->lock_text = read_text(*lock_path);
	if (!r->lock_text)
		return fail(r, -errno, "cannot read", *lock_path);
	rel = lock_header(r->lock_text, "release");
	r->arch = lock_header(r->lock_text, "arch");
	r->kernel = lock_header(r->lock_text, "kernel");
	if (rel && strchr(rel, ' ')) {
		r->version = xstrdup_or_null(strchr(rel, ' ') + 1);
		*strchr(rel, ' ') = '\0';
	}
	r->codename = rel;
	r->epoch = lock_epoch(r->lock_text);
	if (!r->codename || !r->version || !r->arch || !r->kernel)
		return r->d->host->error(
		    r->ctx, -EINVAL, "%s: no release, version, arch or kernel line", *lock_path);
	if (strcmp(r->arch, "amd64") != 0)
		return r->d->host->error(r->ctx, -KLD_E_UNSUPPORTED,
		                         "the installer image is made for amd64 only, not %s",
		                         r->arch);
	return 0;
}

int deb_assemble(struct kld_ctx *ctx, void *state)
{
	struct deb *d = state;
	struct asm_run r = {.d = d, .ctx = ctx, .out = d->host->stage_dir(ctx, NULL)};
	char *lock_path = NULL, *ilock = NULL;
	int ret;

	r.im = d->host->service(ctx, KLD_IMAGE_SERVICE);
	if (!r.im || !KLD_TABLE_HAS(r.im, struct kld_image, run))
		return d->host->error(ctx, -KLD_E_UNSUPPORTED, "this kldload lacks %s",
		                      KLD_IMAGE_SERVICE);
	r.scratch = str_printf("%s.scratch", r.out);
	ret = load_lock(&r, &lock_path);
	r.lock_path = lock_path;
	if (ret == 0)
		ret = solve_installer(&r, &ilock);
	if (ret == 0)
		ret = extract_installer(&r, ilock);
	if (ret == 0)
		ret = lay_out_installer(&r);
	if (ret == 0)
		ret = installer_udebs(&r);
	if (ret == 0)
		ret = module_packages(&r);
	if (ret == 0)
		ret = make_repo(&r, lock_path);
	if (ret == 0)
		ret = disk_files(&r);
	if (ret == 0)
		ret = write_info(&r);
	if (ret == 0)
		ret = d->host->publish(ctx, "installer-lock", "installer.lock");
	run_clear(&r);
	free(lock_path);
	free(ilock);
	return ret;
}
