/* SPDX-License-Identifier: MIT */
/*
 * acme: a module recipe written outside kldload's tree, as a vendor would write one.
 *
 * The module's source is an archive at a URL, pinned by its SHA-256 (not a distribution
 * package): kldload downloads it, checks it and unpacks it in the build's work directory. The
 * recipe then runs the kernel's own build system for the image's kernel, inside kldload's
 * sandbox, and hands the .ko to kldload, which checks its vermagic, signs it and packs it.
 *
 * Options (--option acme.KEY=VALUE, or an "acme" group in the configuration file):
 *   url, sha256   another source archive than the one this plugin was built with
 */
#include <stdio.h>
#include <string.h>

#include <kldload/build.h>
#include <kldload/kldload.h>

/* The archive holds one directory, acme-<version>/, with the Kbuild file and the sources. */
#define ACME_TREE KLD_BUILD_SOURCE_DIR "/acme-" ACME_VERSION

static const struct kld_host *host;

static int acme_open(struct kld_ctx *ctx, const struct kld_host *h, void **state)
{
	(void)state;
	host = h;
	/* Source archives (KLD_NEED_SOURCE_URL) came with ABI 1.1: refuse an older kldload. */
	if (h->abi_minor < 1 || !KLD_HOST_HAS(h, need))
		return h->error(ctx, -KLD_E_UNSUPPORTED,
		                "needs kldload with plugin ABI 1.1 or later (this one has %u.%u)",
		                h->abi_major, h->abi_minor);
	return 0;
}

static const char *option(struct kld_ctx *ctx, const char *key, const char *fallback)
{
	const char *v = host->option(ctx, key);

	return v && *v ? v : fallback;
}

/* What the module needs for `kernel_release`: only its source; headers come with the kernel. */
static int acme_declare(struct kld_ctx *ctx, void *state, const char *kernel_release)
{
	char source[4096];

	(void)state;
	(void)kernel_release;
	snprintf(source, sizeof(source), "%s %s", option(ctx, "url", ACME_SOURCE_URL),
	         option(ctx, "sha256", ACME_SOURCE_SHA256));
	return host->need(ctx, KLD_NEED_SOURCE_URL, source);
}

/* Stage build-modules: `make -C <the kernel's build tree> M=<our source> modules`. */
static int acme_build(struct kld_ctx *ctx, void *state)
{
	const struct kld_build_service *b = host->service(ctx, KLD_BUILD_SERVICE);
	char kdir[512], jobs[32];
	const char *krel;
	int32_t status = 0;
	int r;

	(void)state;
	if (!b || !KLD_TABLE_HAS(b, struct kld_build_service, add_module))
		return host->error(ctx, -KLD_E_UNSUPPORTED, "this kldload has no %s service",
		                   KLD_BUILD_SERVICE);
	krel = b->kernel_release(ctx);
	snprintf(kdir, sizeof(kdir), "/lib/modules/%s/build", krel);
	snprintf(jobs, sizeof(jobs), "-j%s", option(ctx, "jobs", host->plan(ctx, "jobs") ?: "1"));

	const char *argv[] = {"make", jobs, "-C", kdir, "M=" ACME_TREE, "modules", NULL};
	r = b->run(ctx, argv, NULL, NULL, &status);
	if (r < 0)
		return r;
	if (status != 0)
		return host->error(ctx, -KLD_E_BUILD, "make failed for kernel %s (exit %d), see %s",
		                   krel, status, b->log_path(ctx));
	return b->add_module(ctx, ACME_TREE "/acme.ko", "updates/acme/acme.ko");
}

static const struct kld_module_ops acme_ops = {
    .size = sizeof(acme_ops),
    .declare = acme_declare,
    .build = acme_build,
};

static const struct kld_plugin acme_plugin = {
    KLD_PLUGIN_HEAD(KLD_KIND_MODULE),
    .name = "acme",
    .version = ACME_VERSION,
    .license = "MIT",
    .origin = "the kldload SDK template",
    .summary = "template: a kernel module from a source archive pinned by SHA-256",
    .open = acme_open,
    .ops = &acme_ops,
};

KLD_PLUGIN_DEFINE(acme_plugin)
