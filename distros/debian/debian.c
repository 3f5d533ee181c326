/* SPDX-License-Identifier: MIT */
/*
 * The Debian distro driver. fetch: the release's InRelease, verified with the archive keyring
 * by the distribution's own verifier, then each component's Packages index checked against the
 * Release. resolve: see resolve.c.
 *
 * fetch output (<work>/fetch/):
 *   repos                                  one line per suite: "<suite> <base-url>", release first
 *   dists/<suite>/InRelease                as downloaded
 *   dists/<suite>/Release                  the text the verifier checked
 *   dists/<suite>/<comp>/binary-<arch>/Packages.xz (or .gz)   checked against the Release
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debian.h"
#include "assemble.h"

static int deb_open(struct kld_ctx *ctx, const struct kld_host *host, void **state)
{
	struct deb *d;

	if (!KLD_HOST_HAS(host, service))
		return host->error(ctx, -KLD_E_UNSUPPORTED, "this kldload has no services");
	d = host->alloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->host = host;
	d->fetch = host->service(ctx, KLD_FETCH_SERVICE);
	d->solve = host->service(ctx, KLD_SOLVE_SERVICE);
	if (!d->fetch || !d->solve || !KLD_TABLE_HAS(d->fetch, struct kld_fetch, fetch_lock) ||
	    !KLD_TABLE_HAS(d->solve, struct kld_solve, write_lock)) {
		host->free(d);
		return host->error(ctx, -KLD_E_UNSUPPORTED,
		                   "this kldload lacks the services %s and %s", KLD_FETCH_SERVICE,
		                   KLD_SOLVE_SERVICE);
	}
	*state = d;
	return 0;
}

static void deb_close(struct kld_ctx *ctx, void *state)
{
	struct deb *d = state;

	(void)ctx;
	if (d)
		d->host->free(d);
}

/* One suite of the archive being fetched. */
struct suite {
	const char *name; /* dists/<name> */
	const char *base; /* archive base URL */
	const char *want; /* what Suite or Codename must say */
};

/*
 * An archive without InRelease: Release and its detached Release.gpg, verified before the
 * Release takes its final name (nothing unverified is kept).
 */
static int fetch_detached(struct kld_ctx *ctx, struct deb *d, const char *out,
                          const struct suite *s, const char *keyring, const char *text)
{
	char *url = str_printf("%s/dists/%s/Release", s->base, s->name);
	char *sig_url = str_printf("%s.gpg", url);
	char *tmp = str_printf("%s.unverified", text);
	char *sig = str_printf("%s/dists/%s/Release.gpg", out, s->name);
	struct kld_fetch_item it[2] = {
	    {.size = sizeof(it[0]), .url = url, .length = -1, .dest = tmp},
	    {.size = sizeof(it[0]), .url = sig_url, .length = -1, .dest = sig},
	};
	int ret = d->fetch->download(ctx, it, 2);

	if (ret == 0)
		ret = d->fetch->verify_detached(ctx, tmp, sig, keyring);
	if (ret == 0 && rename(tmp, text) < 0)
		ret = d->host->error(ctx, -errno, "cannot rename %s", tmp);
	unlink(tmp);
	free(url);
	free(sig_url);
	free(tmp);
	free(sig);
	return ret;
}

static int fetch_inrelease(struct kld_ctx *ctx, struct deb *d, const char *out,
                           const struct suite *s, const char *keyring, struct kld_release **rel)
{
	char *url = str_printf("%s/dists/%s/InRelease", s->base, s->name);
	char *dest = str_printf("%s/dists/%s/InRelease", out, s->name);
	char *text = str_printf("%s/dists/%s/Release", out, s->name);
	struct kld_fetch_item it = {.size = sizeof(it),
	                            .flags = KLD_FETCH_OPTIONAL,
	                            .url = url,
	                            .length = -1,
	                            .dest = dest};
	int ret = mkdir_parents(dest);

	if (ret < 0)
		ret = d->host->error(ctx, ret, "cannot create the directory of %s", dest);
	if (ret == 0)
		ret = d->fetch->download(ctx, &it, 1);
	if (ret == 0 && it.result == -ENOENT &&
	    KLD_TABLE_HAS(d->fetch, struct kld_fetch, verify_detached))
		ret = fetch_detached(ctx, d, out, s, keyring, text);
	else if (ret == 0 && it.result == -ENOENT)
		ret = d->host->error(ctx, -ENOENT, "%s: no such file", url);
	else if (ret == 0)
		ret = d->fetch->verify_signed(ctx, dest, keyring, text);
	if (ret == 0)
		ret = d->fetch->release_open(ctx, text, s->want, rel);
	free(url);
	free(dest);
	free(text);
	return ret;
}

/* The best index of one component: Packages.xz, else .gz, else uncompressed. */
static const char *const index_names[] = {"Packages.xz", "Packages.gz", "Packages"};

static int fetch_component(struct kld_ctx *ctx, struct deb *d, const char *out,
                           const struct suite *s, struct kld_release *rel, const char *comp,
                           const char *arch)
{
	for (size_t i = 0; i < sizeof(index_names) / sizeof(index_names[0]); i++) {
		char *path = str_printf("%s/binary-%s/%s", comp, arch, index_names[i]);
		const char *sha = NULL;
		int64_t len = 0;
		char *url, *dest;
		struct kld_fetch_item it;
		int ret;

		if (d->fetch->release_entry(rel, path, &len, &sha) < 0) {
			free(path);
			continue;
		}
		if (d->fetch->release_field(rel, "Acquire-By-Hash"))
			url = str_printf("%s/dists/%s/%s/binary-%s/by-hash/SHA256/%s", s->base,
			                 s->name, comp, arch, sha);
		else
			url = str_printf("%s/dists/%s/%s", s->base, s->name, path);
		dest = str_printf("%s/dists/%s/%s", out, s->name, path);
		it = (struct kld_fetch_item){
		    .size = sizeof(it), .url = url, .sha256 = sha, .length = len, .dest = dest};
		ret = mkdir_parents(dest);
		if (ret == 0)
			ret = d->fetch->download(ctx, &it, 1);
		else
			ret = d->host->error(ctx, ret, "cannot create the directory of %s", dest);
		free(url);
		free(dest);
		free(path);
		return ret;
	}
	d->host->log(ctx, KLD_LOG_INFO, "%s: no %s/binary-%s index", s->name, comp, arch);
	return 1;
}

static int fetch_suite(struct kld_ctx *ctx, struct deb *d, const char *out,
                       const struct deb_source *src, const struct suite *s, FILE *repos,
                       char **codename)
{
	struct kld_release *rel = NULL;
	const char *comps, *archs;
	int ret = fetch_inrelease(ctx, d, out, s, src->keyring, &rel);
	int found_main = 0;

	if (ret < 0)
		return ret;
	comps = d->fetch->release_field(rel, "Components");
	archs = d->fetch->release_field(rel, "Architectures");
	if (archs && !word_in(archs, src->arch))
		ret = d->host->error(ctx, -KLD_E_UNSUPPORTED, "%s has no architecture %s", s->name,
		                     src->arch);
	for (const char *p = src->components; ret == 0 && *p;) {
		size_t n = strcspn(p, " ,");
		char *comp = str_printf("%.*s", (int)n, p);

		if (comps && component_listed(comps, comp)) {
			ret = fetch_component(ctx, d, out, s, rel, comp, src->arch);
			found_main |= ret == 0 && !strcmp(comp, "main");
			ret = ret > 0 ? 0 : ret;
		}
		free(comp);
		p += n;
		p += strspn(p, " ,");
	}
	if (ret == 0 && !found_main && !codename[0])
		ret = d->host->error(ctx, -KLD_E_VERIFY, "%s: no main/binary-%s index", s->name,
		                     src->arch);
	if (ret == 0) {
		fprintf(repos, "%s %s\n", s->name, s->base);
		if (!*codename)
			*codename = xstrdup_or_null(d->fetch->release_field(rel, "Codename"));
	}
	d->fetch->release_close(rel);
	return ret;
}

static int fetch_extra(struct kld_ctx *ctx, struct deb *d, const char *out,
                       const struct deb_source *src, const char *codename, FILE *repos)
{
	for (const char *p = src->extra; *p;) {
		size_t n = strcspn(p, " ,");
		char *word = str_printf("%.*s", (int)n, p);
		char *name =
		    strchr(word, '-') ? xstrdup_or_null(word) : str_printf("%s-%s", codename, word);
		int security = strstr(name, "-security") != NULL;
		struct suite s = {name, security ? src->security_mirror : src->mirror, name};
		char *dummy = (char *)"x";
		int ret = 0;

		if (!s.base)
			ret = d->host->error(ctx, -KLD_E_CONFIG,
			                     "no security mirror: set debian.security_mirror");
		if (ret == 0)
			ret = fetch_suite(ctx, d, out, src, &s, repos, &dummy);
		free(word);
		free(name);
		if (ret < 0)
			return ret;
		p += n;
		p += strspn(p, " ,");
	}
	return 0;
}

static int deb_fetch(struct kld_ctx *ctx, void *state)
{
	struct deb *d = state;
	const char *out = d->host->stage_dir(ctx, NULL);
	struct deb_source src = {0};
	char *codename = NULL, *repos_path, *tmp_path;
	FILE *repos;
	int ret = deb_source_load(ctx, d, &src);

	if (ret < 0)
		return ret;
	repos_path = str_printf("%s/%s", out, REPOS_FILE);
	tmp_path = str_printf("%s.tmp", repos_path);
	repos = fopen(tmp_path, "we");
	if (!repos)
		ret = d->host->error(ctx, -errno, "cannot create %s", tmp_path);
	d->host->log(ctx, KLD_LOG_INFO, "release %s from %s (keyring %s)", src.release, src.mirror,
	             src.keyring);
	if (ret == 0) {
		struct suite s = {src.release, src.mirror, src.release};

		ret = fetch_suite(ctx, d, out, &src, &s, repos, &codename);
	}
	if (ret == 0 && src.extra[0])
		ret = fetch_extra(ctx, d, out, &src, codename ? codename : src.release, repos);
	if (repos && fclose(repos) != 0 && ret == 0)
		ret = d->host->error(ctx, -EIO, "cannot write %s", tmp_path);
	if (ret == 0 && rename(tmp_path, repos_path) < 0)
		ret = d->host->error(ctx, -errno, "cannot rename %s", tmp_path);
	free(codename);
	free(repos_path);
	free(tmp_path);
	deb_source_clear(&src);
	return ret;
}

static const struct kld_distro_ops deb_ops = {
    .size = sizeof(struct kld_distro_ops),
    .fetch = deb_fetch,
    .resolve = deb_resolve,
    .assemble = deb_assemble,
    .boot_config = deb_boot_config,
};

static const struct kld_plugin deb_plugin = {
    KLD_PLUGIN_HEAD(KLD_KIND_DISTRO),
    .name = "debian",
    .version = "0.1.0",
    .license = "MIT",
    .origin = "kldload",
    .summary = "Debian: verified fetch, libsolv resolution and lock, installer layout",
    .open = deb_open,
    .close = deb_close,
    .ops = &deb_ops,
};

KLD_PLUGIN_DEFINE(deb_plugin)
