/* SPDX-License-Identifier: MIT */
/*
 * The installer's own packages (udebs) for an offline install from the medium: what Debian's CD
 * carries beyond the netboot installer's initrd. The set is the release's udebs of priority
 * standard and above (what anna installs from a CD), the CD flavour's retriever (cdrom-detect,
 * cdrom-retriever, load-cdrom) and the kernel module udebs a CD needs, for the installer's
 * kernel ABI, closed under Depends, minus what the netboot initrd already holds.
 *
 * The index comes from the fetch stage's verified Release (its SHA256 entry for
 * main/debian-installer/binary-<arch>/Packages.xz), each udeb is checked against the index.
 * Many mirrors lack udebs. A missing library udeb ("<lib>-udeb") is stood in for by the
 * release's regular package <lib> of the same version, repacked as a udeb with the udeb's own
 * control fields (said in the log). What nothing stands in for is reported: the image still
 * boots and installs from the network, but not offline (debian.require_offline=1 makes it fatal).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udebs.h"

struct stanza {
	char *name, *version, *arch, *priority, *depends, *provides, *filename, *sha256;
	int64_t size;
	char *text; /* the control part (no Filename/Size/hashes) */
	int want, have, missing;
	char *file; /* the fetched or stood-in .udeb */
};

struct index {
	struct stanza *v;
	size_t n;
};

/* The stanza's text without the fields that say where its file is. */
static char *control_part(const char *st)
{
	static const char *const drop[] = {
	    "Filename:", "Size:", "MD5sum:", "SHA1:", "SHA256:", "Description-md5:"};
	char *out = xstrdup_or_null(""), *t;

	for (const char *p = st; p && *p;) {
		const char *eol = strchr(p, '\n');
		int keep = 1;

		for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
			keep &= strncmp(p, drop[i], strlen(drop[i])) != 0;
		if (keep) {
			t = str_printf("%s%.*s\n", out, (int)((eol ? eol : p + strlen(p)) - p), p);
			free(out);
			out = t;
		}
		p = eol ? eol + 1 : NULL;
	}
	return out;
}

/* The end of the stanza at `p`: its blank line (linear: no strstr over the whole index). */
static char *stanza_end(char *p)
{
	for (; *p; p++)
		if (p[0] == '\n' && p[1] == '\n')
			return p;
	return NULL;
}

/* `full`: keep the control text too (udebs); a main index only needs names and files. */
static void index_parse(struct index *ix, char *text, int full)
{
	for (char *st = text; st && *st;) {
		char *end = stanza_end(st);
		struct stanza s = {0};
		char *size;

		if (end)
			*end = '\0';
		s.name = deb_field(st, "Package");
		if (s.name) {
			s.version = deb_field(st, "Version");
			s.arch = deb_field(st, "Architecture");
			s.priority = deb_field(st, "Priority");
			s.depends = deb_field(st, "Depends");
			s.provides = deb_field(st, "Provides");
			s.filename = deb_field(st, "Filename");
			s.sha256 = deb_field(st, "SHA256");
			size = deb_field(st, "Size");
			s.size = size ? atoll(size) : -1;
			free(size);
			s.text = full ? control_part(st) : NULL;
			ix->v = realloc(ix->v, (ix->n + 1) * sizeof(*ix->v));
			if (!ix->v)
				abort();
			ix->v[ix->n++] = s;
		}
		st = end ? end + 2 : NULL;
	}
}

static void index_clear(struct index *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		struct stanza *s = &ix->v[i];

		free(s->name), free(s->version), free(s->arch), free(s->priority);
		free(s->depends), free(s->provides), free(s->filename), free(s->sha256);
		free(s->text), free(s->file);
	}
	free(ix->v);
}

/* The kernel module udebs' name suffix for the installer's kernel ("-<kabi>-di"). */
static const char *kmod_suffix;

static int other_kernel(const char *name)
{
	size_t n = strlen(name), k = kmod_suffix ? strlen(kmod_suffix) : 0;

	if (n < 4 || strcmp(name + n - 3, "-di") != 0 || !k)
		return 0;
	return n < k || strcmp(name + n - k, kmod_suffix) != 0;
}

/* A package by name, else a provider of it built for the installer's kernel. */
static struct stanza *find(struct index *ix, const char *name)
{
	for (size_t i = 0; i < ix->n; i++)
		if (!strcmp(ix->v[i].name, name))
			return &ix->v[i];
	for (size_t i = 0; i < ix->n; i++)
		if (ix->v[i].provides && word_in(ix->v[i].provides, name) &&
		    !other_kernel(ix->v[i].name))
			return &ix->v[i];
	return NULL;
}

/* "Package: x" lines of the initrd's dpkg status, and what they provide. */
static int in_status(const char *status, const char *name)
{
	char *a = str_printf("\nPackage: %s\n", name);
	char *b = str_printf("Provides: %s", name);
	int r = strstr(status, a) != NULL || strstr(status, b) != NULL;

	free(a);
	free(b);
	return r;
}

static void mark(struct index *ix, const char *status, struct stanza *s);

/* Each alternative group of Depends: satisfied by the initrd, else the first one we know. */
static void mark_depends(struct index *ix, const char *status, const char *deps)
{
	for (const char *p = deps; p && *p;) {
		size_t n = strcspn(p, ",");
		char *group = str_printf("%.*s", (int)n, p), *first = NULL, *save = NULL;
		int ok = 0;

		for (char *alt = strtok_r(group, "|", &save); alt && !ok;
		     alt = strtok_r(NULL, "|", &save)) {
			char name[256];

			if (sscanf(alt, " %255[^ (]", name) != 1)
				continue;
			ok = in_status(status, name) || (find(ix, name) && find(ix, name)->want);
			if (!first && find(ix, name))
				first = xstrdup_or_null(name);
		}
		if (!ok && first)
			mark(ix, status, find(ix, first));
		free(first);
		free(group);
		p += n;
		p += strspn(p, ", ");
	}
}

static void mark(struct index *ix, const char *status, struct stanza *s)
{
	if (!s || s->want || in_status(status, s->name))
		return;
	s->want = 1;
	mark_depends(ix, status, s->depends);
}

static const char *const cd_udebs[] = {"cdrom-detect", "cdrom-retriever", "load-cdrom"};
static const char *const cd_modules[] = {"ata",  "sata", "pata", "scsi", "cdrom-core", "isofs",
                                         "ext4", "crc",  "md",   "fat",  "efi",        "nls-core"};
static const char *const net_only[] = {"net-retriever", "download-installer", "choose-mirror",
                                       "network-console", "apt-mirror-setup"};

static int is_net_only(const char *name)
{
	for (size_t i = 0; i < sizeof(net_only) / sizeof(net_only[0]); i++)
		if (!strcmp(name, net_only[i]))
			return 1;
	return 0;
}

static void choose(struct index *ix, const char *status, const char *kabi)
{
	char *suffix = str_printf("-%s-di", kabi);

	kmod_suffix = suffix;
	for (size_t i = 0; i < ix->n; i++) {
		struct stanza *s = &ix->v[i];
		size_t n = strlen(s->name);
		int std = s->priority &&
		          (!strcmp(s->priority, "standard") || !strcmp(s->priority, "important") ||
		           !strcmp(s->priority, "required"));
		int kmod = n > 3 && !strcmp(s->name + n - 3, "-di");

		if (!std || is_net_only(s->name))
			continue;
		if (kmod && (n < strlen(suffix) || strcmp(s->name + n - strlen(suffix), suffix)))
			continue;
		mark(ix, status, s);
	}
	for (size_t i = 0; i < sizeof(cd_udebs) / sizeof(cd_udebs[0]); i++)
		mark(ix, status, find(ix, cd_udebs[i]));
	for (size_t i = 0; i < sizeof(cd_modules) / sizeof(cd_modules[0]); i++) {
		char *name = str_printf("%s-modules%s", cd_modules[i], suffix);

		mark(ix, status, find(ix, name));
		free(name);
	}
	kmod_suffix = NULL;
	free(suffix);
}

/* ---- fetching ---- */

static int fetch_index(struct udeb_job *j, const char *dest)
{
	char *rel_path = str_printf("%s/dists/%s/Release", j->fetch_dir, j->suite);
	char *path = str_printf("main/debian-installer/binary-%s/Packages.xz", j->arch);
	struct kld_release *rel = NULL;
	const char *sha = NULL;
	int64_t len = 0;
	char *url = NULL;
	int ret = j->d->fetch->release_open(j->ctx, rel_path, NULL, &rel);

	if (ret == 0 && j->d->fetch->release_entry(rel, path, &len, &sha) < 0)
		ret = j->d->host->error(j->ctx, -ENOENT, "%s lists no %s", rel_path, path);
	if (ret == 0) {
		struct kld_fetch_item it = {sizeof(it), 0, NULL, sha, len, dest, 0, 0};

		/* by hash when the archive offers it: the plain name may have moved on since */
		if (j->d->fetch->release_field(rel, "Acquire-By-Hash"))
			url = str_printf(
			    "%s/dists/%s/main/debian-installer/binary-%s/by-hash/SHA256/%s",
			    j->base, j->suite, j->arch, sha);
		else
			url = str_printf("%s/dists/%s/%s", j->base, j->suite, path);
		it.url = url;
		ret = j->d->fetch->download(j->ctx, &it, 1);
	}
	if (rel)
		j->d->fetch->release_close(rel);
	free(rel_path);
	free(path);
	free(url);
	return ret;
}

static int sh(struct udeb_job *j, const char *script)
{
	const char *argv[] = {"sh", "-c", script, NULL};
	int32_t st = 0;
	int ret = j->im->run(j->ctx, argv, &st);

	return ret < 0 ? ret : st ? -KLD_E_BUILD : 0;
}

/*
 * Two passes: which udebs the mirror has (KLD_FETCH_OPTIONAL is honoured for items without a
 * hash only), then those through the cache, each checked against the index's SHA256.
 */
static int fetch_udebs(struct udeb_job *j, struct index *ix, const char *dir)
{
	struct kld_fetch_item *items = calloc(ix->n + 1, sizeof(*items));
	struct stanza **who = calloc(ix->n + 1, sizeof(*who));
	uint32_t n = 0, m = 0;
	int ret;

	if (!items || !who)
		abort();
	for (size_t i = 0; i < ix->n; i++) {
		struct stanza *s = &ix->v[i];

		if (!s->want || !s->filename || !s->sha256)
			continue;
		s->file = str_printf("%s/%s", dir, strrchr(s->filename, '/') + 1);
		who[n] = s;
		items[n++] = (struct kld_fetch_item){sizeof(items[0]),
		                                     KLD_FETCH_OPTIONAL,
		                                     str_printf("%s/%s", j->base, s->filename),
		                                     NULL,
		                                     s->size,
		                                     str_printf("%s.probe", s->file),
		                                     0,
		                                     0};
	}
	ret = j->d->fetch->download(j->ctx, items, n);
	for (uint32_t k = 0; k < n; k++) {
		char *part = str_printf("%s.part", items[k].dest);

		unlink(items[k].dest);
		unlink(part);
		free(part);
		free((char *)items[k].dest);
		if (ret == 0 && items[k].result == -ENOENT) {
			who[k]->missing = 1;
			free(who[k]->file);
			who[k]->file = NULL;
			free((char *)items[k].url);
			continue;
		}
		items[m] = items[k];
		items[m].flags = 0;
		items[m].sha256 = who[k]->sha256;
		items[m].dest = who[k]->file;
		m++;
	}
	if (ret == 0)
		ret = j->d->fetch->download(j->ctx, items, m);
	for (uint32_t k = 0; k < m; k++)
		free((char *)items[k].url);
	free(items);
	free(who);
	return ret;
}

/* ---- stand-ins ---- */

/* The regular package `name` at `version` in the release's main index: its file and hash. */
static int regular_package(struct udeb_job *j, struct index *main_ix, const char *name,
                           const char *version, struct stanza **out)
{
	for (size_t i = 0; i < main_ix->n; i++)
		if (!strcmp(main_ix->v[i].name, name) && !strcmp(main_ix->v[i].version, version)) {
			*out = &main_ix->v[i];
			return 0;
		}
	(void)j;
	return -ENOENT;
}

static int repack(struct udeb_job *j, struct stanza *u, struct stanza *reg, const char *dir)
{
	char *deb = str_printf("%s/regular-%s", dir, strrchr(reg->filename, '/') + 1);
	char *tree = str_printf("%s/tree-%s", dir, u->name);
	char *list = str_printf("%s/list-%s", dir, u->name);
	char *script = str_printf("cd '%s' && find . -type f ! -path './usr/share/doc/*' "
	                          "! -path './usr/share/man/*' ! -path './usr/share/lintian/*' "
	                          "| sed 's|^\\.||' | sort > '%s'",
	                          tree, list);
	char *url = str_printf("%s/%s", j->base, reg->filename);
	struct kld_fetch_item it = {sizeof(it), 0, url, reg->sha256, reg->size, deb, 0, 0};
	struct kld_deb_file *files = NULL;
	uint32_t n = 0;
	char *text = NULL;
	int ret = j->d->fetch->download(j->ctx, &it, 1);

	if (ret == 0)
		ret = j->im->deb_extract(j->ctx, deb, tree);
	if (ret == 0)
		ret = sh(j, script);
	if (ret == 0 && !(text = read_text(list)))
		ret = -EIO;
	for (char *p = text; ret == 0 && p && *p;) {
		char *eol = strchr(p, '\n');

		if (eol)
			*eol = '\0';
		files = realloc(files, (n + 1) * sizeof(*files));
		if (!files)
			abort();
		files[n++] = (struct kld_deb_file){sizeof(*files), 0755,
		                                   str_printf("%s%s", tree, p), xstrdup_or_null(p)};
		p = eol ? eol + 1 : NULL;
	}
	if (ret == 0) {
		struct kld_deb_spec spec = {sizeof(spec), n,    u->text,  files,
		                            NULL,         NULL, j->epoch, NULL};

		u->file = str_printf("%s/%s_%s_%s.udeb", dir, u->name, u->version, u->arch);
		ret = j->im->deb_write(j->ctx, &spec, u->file);
	}
	if (ret == 0) {
		u->missing = 0;
		j->d->host->log(
		    j->ctx, KLD_LOG_WARN,
		    "%s %s is not on the mirror: stood in for by the regular package %s %s",
		    u->name, u->version, reg->name, reg->version);
	}
	for (uint32_t i = 0; i < n; i++) {
		free((char *)files[i].source);
		free((char *)files[i].path);
	}
	free(files), free(deb), free(tree), free(list), free(script), free(url), free(text);
	return ret;
}

static int stand_ins(struct udeb_job *j, struct index *ix, struct index *main_ix, const char *dir)
{
	for (size_t i = 0; i < ix->n; i++) {
		struct stanza *u = &ix->v[i], *reg = NULL;
		size_t n = strlen(u->name);
		char *base;
		int ret = 0;

		if (!u->missing || n < 6 || strcmp(u->name + n - 5, "-udeb"))
			continue;
		base = str_printf("%.*s", (int)(n - 5), u->name);
		if (regular_package(j, main_ix, base, u->version, &reg) == 0)
			ret = repack(j, u, reg, dir);
		free(base);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int load_main_index(struct udeb_job *j, struct index *main_ix)
{
	char *xz =
	    str_printf("%s/dists/%s/main/binary-%s/Packages.xz", j->fetch_dir, j->suite, j->arch);
	char *plain = str_printf("%s/main-Packages", j->scratch);
	char *script = str_printf("xz -dc '%s' > '%s'", xz, plain);
	char *text = NULL;
	int ret = sh(j, script);

	if (ret == 0 && !(text = read_text(plain)))
		ret = -EIO;
	if (ret == 0)
		index_parse(main_ix, text, 0);
	free(xz), free(plain), free(script), free(text);
	return ret;
}

int udebs_gather(struct udeb_job *j, struct udeb_result *res)
{
	char *xz = str_printf("%s/di-Packages.xz", j->scratch);
	char *plain = str_printf("%s/di-Packages", j->scratch);
	char *dir = str_printf("%s/udebs", j->scratch);
	char *script = str_printf("mkdir -p '%s' && xz -dc '%s' > '%s'", dir, xz, plain);
	struct index ix = {0}, main_ix = {0};
	char *text = NULL;
	int ret = fetch_index(j, xz);

	if (ret == 0)
		ret = sh(j, script);
	if (ret == 0 && !(text = read_text(plain)))
		ret = j->d->host->error(j->ctx, -EIO, "cannot read %s", plain);
	if (ret == 0) {
		index_parse(&ix, text, 1);
		choose(&ix, j->initrd_status, j->kabi);
		ret = fetch_udebs(j, &ix, dir);
	}
	if (ret == 0)
		ret = load_main_index(j, &main_ix);
	if (ret == 0)
		ret = stand_ins(j, &ix, &main_ix, dir);
	for (size_t i = 0; ret == 0 && i < ix.n; i++) {
		struct stanza *s = &ix.v[i];
		char *t;

		if (s->want && s->file) {
			res->files = realloc(res->files, (res->n_files + 1) * sizeof(char *));
			if (!res->files)
				abort();
			res->files[res->n_files++] = xstrdup_or_null(s->file);
		} else if (s->want && s->missing) {
			t = str_printf("%s%s%s", res->missing ? res->missing : "",
			               res->missing ? " " : "", s->name);
			free(res->missing);
			res->missing = t;
			res->n_missing++;
		}
	}
	index_clear(&ix);
	index_clear(&main_ix);
	free(xz), free(plain), free(dir), free(script), free(text);
	return ret;
}

void udeb_result_clear(struct udeb_result *res)
{
	for (uint32_t i = 0; i < res->n_files; i++)
		free(res->files[i]);
	free(res->files);
	free(res->missing);
	*res = (struct udeb_result){0};
}
