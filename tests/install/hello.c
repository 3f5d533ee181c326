/* SPDX-License-Identifier: MIT */
/* A third-party module recipe, built by the install test against the installed SDK only. */
#include <kldload/kldload.h>

static const struct kld_host *host;

static int open_(struct kld_ctx *ctx, const struct kld_host *h, void **state)
{
	host = h;
	return 0;
}

static int declare(struct kld_ctx *ctx, void *state, const char *kernel_release)
{
	return host->need(ctx, KLD_NEED_RUNTIME, "hello-tools");
}

static const struct kld_module_ops ops = {
    .size = sizeof(ops),
    .declare = declare,
};

static const struct kld_plugin desc = {
    KLD_PLUGIN_HEAD(KLD_KIND_MODULE),
    .name = "hello",
    .version = "1.0",
    .license = "MIT",
    .origin = "kldload install test",
    .summary = "a plugin built outside the tree",
    .open = open_,
    .ops = &ops,
};

KLD_PLUGIN_DEFINE(desc)
