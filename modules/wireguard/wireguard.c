/* SPDX-License-Identifier: MIT */
/*
 * The wireguard recipe. WireGuard is part of Linux since 5.6: when the target kernel's
 * configuration has CONFIG_WIREGUARD, nothing is built and only wireguard-tools joins the
 * image. For an older kernel the compat module is built from the release's wireguard-dkms, and
 * a release without that package fails with a clear message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kldload/build.h>
#include <kldload/kldload.h>

#define IN_KERNEL_SINCE (5 * 1000 + 6)

struct wg_state {
	const struct kld_host *host;
};

static int wg_open(struct kld_ctx *ctx, const struct kld_host *host, void **state)
{
	struct wg_state *s;

	if (!KLD_HOST_HAS(host, service) || !KLD_HOST_HAS(host, need))
		return host->error(ctx, -KLD_E_UNSUPPORTED, "this kldload is too old for recipes");
	s = host->alloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	*state = s;
	return 0;
}

static void wg_close(struct kld_ctx *ctx, void *state)
{
	struct wg_state *s = state;

	(void)ctx;
	if (s)
		s->host->free(s);
}

static long major_minor(const char *v)
{
	char *end;
	long major = strtol(v, &end, 10), minor;

	if (end == v || *end != '.')
		return -1;
	v = end + 1;
	minor = strtol(v, &end, 10);
	return end == v ? -1 : major * 1000 + minor;
}

static int wg_declare(struct kld_ctx *ctx, void *state, const char *kernel_release)
{
	struct wg_state *s = state;
	long k = major_minor(kernel_release);
	int r = s->host->need(ctx, KLD_NEED_RUNTIME, "wireguard-tools");

	if (r >= 0 && k >= 0 && k < IN_KERNEL_SINCE)
		r = s->host->need(ctx, KLD_NEED_SOURCE, "wireguard-dkms");
	return r;
}

static int build_compat(struct kld_ctx *ctx, const struct kld_host *h,
                        const struct kld_build_service *b, const char *release)
{
	char *conf = NULL;
	int r = b->package_file(ctx, "wireguard-dkms", "/dkms.conf", &conf);

	if (r < 0)
		return h->error(
		    ctx, -KLD_E_UNSUPPORTED,
		    "kernel %s predates in-kernel WireGuard (5.6) and this release has no "
		    "wireguard-dkms package to build it from",
		    release);
	*strrchr(conf, '/') = '\0';
	r = b->dkms_build(ctx, conf, NULL);
	h->free(conf);
	return r;
}

static int wg_build(struct kld_ctx *ctx, void *state)
{
	struct wg_state *s = state;
	const struct kld_host *h = s->host;
	const struct kld_build_service *b = h->service(ctx, KLD_BUILD_SERVICE);
	const char *release;
	char *cfg;

	if (!b || !KLD_TABLE_HAS(b, struct kld_build_service, dkms_build))
		return h->error(ctx, -KLD_E_UNSUPPORTED, "this kldload has no %s service",
		                KLD_BUILD_SERVICE);
	release = b->kernel_release(ctx);
	cfg = b->kernel_config(ctx, "CONFIG_WIREGUARD");
	if (cfg && (!strcmp(cfg, "y") || !strcmp(cfg, "m"))) {
		h->log(ctx, KLD_LOG_WARN,
		       "kernel %s has WireGuard built in (CONFIG_WIREGUARD=%s): nothing to build, "
		       "adding wireguard-tools",
		       release, cfg);
		h->free(cfg);
		return 0;
	}
	h->free(cfg);
	if (major_minor(release) >= IN_KERNEL_SINCE)
		return h->error(
		    ctx, -KLD_E_UNSUPPORTED,
		    "kernel %s is configured without WireGuard (CONFIG_WIREGUARD unset) "
		    "and wireguard-dkms only builds for kernels before 5.6",
		    release);
	return build_compat(ctx, h, b, release);
}

static const struct kld_module_ops wg_ops = {
    .size = sizeof(struct kld_module_ops),
    .declare = wg_declare,
    .build = wg_build,
};

static const struct kld_plugin wg_plugin = {
    KLD_PLUGIN_HEAD(KLD_KIND_MODULE),
    .name = "wireguard",
    .version = "1.0.0",
    .license = "MIT",
    .origin = "kldload",
    .summary = "WireGuard: in-kernel since 5.6 (adds wireguard-tools), wireguard-dkms before",
    .open = wg_open,
    .close = wg_close,
    .ops = &wg_ops,
};

KLD_PLUGIN_DEFINE(wg_plugin)
