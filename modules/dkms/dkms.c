/* SPDX-License-Identifier: MIT */
/*
 * The dkms recipe: `--module dkms:PACKAGE` builds any package of the target distribution that
 * carries a dkms.conf, for the image's kernel, the way `dkms build` would (see docs/dkms.md).
 *
 * Options (--option dkms.KEY=VALUE):
 *   dest   where the modules go below /lib/modules/<release> (default "updates/dkms", as dkms
 *          installs them on Debian)
 */
#include <errno.h>
#include <string.h>

#include <kldload/build.h>
#include <kldload/kldload.h>

struct dkms_state {
	const struct kld_host *host;
};

static int dk_open(struct kld_ctx *ctx, const struct kld_host *host, void **state)
{
	struct dkms_state *s;

	if (!KLD_HOST_HAS(host, service) || !KLD_HOST_HAS(host, need))
		return host->error(ctx, -KLD_E_UNSUPPORTED, "this kldload is too old for recipes");
	s = host->alloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	*state = s;
	return 0;
}

static void dk_close(struct kld_ctx *ctx, void *state)
{
	struct dkms_state *s = state;

	(void)ctx;
	if (s)
		s->host->free(s);
}

/* The package named by `dkms:PACKAGE`. */
static int package_of(struct kld_ctx *ctx, const struct kld_host *host, const char **pkg)
{
	*pkg = host->option(ctx, "arg");
	if (!*pkg || !**pkg)
		return host->error(ctx, -KLD_E_CONFIG,
		                   "name the package to build: --module dkms:PACKAGE (e.g. "
		                   "dkms:r8168-dkms)");
	return 0;
}

static int dk_declare(struct kld_ctx *ctx, void *state, const char *kernel_release)
{
	struct dkms_state *s = state;
	const char *pkg;
	int r = package_of(ctx, s->host, &pkg);

	(void)kernel_release;
	return r < 0 ? r : s->host->need(ctx, KLD_NEED_SOURCE, pkg);
}

static int dk_build(struct kld_ctx *ctx, void *state)
{
	struct dkms_state *s = state;
	const struct kld_host *h = s->host;
	const struct kld_build_service *b = h->service(ctx, KLD_BUILD_SERVICE);
	char *conf = NULL, *slash;
	const char *pkg;
	int r = package_of(ctx, h, &pkg);

	if (r < 0)
		return r;
	if (!b || !KLD_TABLE_HAS(b, struct kld_build_service, dkms_build))
		return h->error(ctx, -KLD_E_UNSUPPORTED, "this kldload has no %s service",
		                KLD_BUILD_SERVICE);
	r = b->package_file(ctx, pkg, "/dkms.conf", &conf);
	if (r < 0)
		return h->error(ctx, r, "package %s carries no dkms.conf: not a DKMS package", pkg);
	slash = strrchr(conf, '/');
	*slash = '\0';
	r = b->dkms_build(ctx, conf, h->option(ctx, "dest"));
	h->free(conf);
	return r;
}

static const struct kld_module_ops dk_ops = {
    .size = sizeof(struct kld_module_ops),
    .declare = dk_declare,
    .build = dk_build,
};

static const struct kld_plugin dk_plugin = {
    KLD_PLUGIN_HEAD(KLD_KIND_MODULE),
    .name = "dkms",
    .version = "1.0.0",
    .license = "MIT",
    .origin = "kldload",
    .summary = "any distribution package that carries a dkms.conf (dkms:PACKAGE)",
    .open = dk_open,
    .close = dk_close,
    .ops = &dk_ops,
};

KLD_PLUGIN_DEFINE(dk_plugin)
