/* SPDX-License-Identifier: MIT */
/*
 * A module recipe for the core's tests: declares needs that depend on the kernel and on its
 * argument (testmod:ARG), and refuses kernels whose release starts with "2." as unsupported.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kldload/kldload.h>

static const struct kld_host *host;

static int open_(struct kld_ctx *ctx, const struct kld_host *h, void **state)
{
	host = h;
	return 0;
}

static int declare(struct kld_ctx *ctx, void *state, const char *kernel)
{
	const char *arg = host->option(ctx, "arg");
	char pkg[256];
	int r;

	if (strncmp(kernel, "2.", 2) == 0)
		return host->error(ctx, -KLD_E_UNSUPPORTED, "kernel %s is too old", kernel);
	snprintf(pkg, sizeof(pkg), "%s-source", arg ? arg : "testmod");
	r = host->need(ctx, KLD_NEED_SOURCE, pkg);
	if (r == 0) {
		snprintf(pkg, sizeof(pkg), "testmod-utils-for-%s", kernel);
		r = host->need(ctx, KLD_NEED_RUNTIME, pkg);
	}
	return r;
}

static const struct kld_module_ops ops = {
    .size = sizeof(ops),
    .declare = declare,
};

static const struct kld_plugin desc = {
    KLD_PLUGIN_HEAD(KLD_KIND_MODULE),
    .name = "testmod",
    .version = "2.0",
    .license = "MIT",
    .origin = "kldload tests",
    .summary = "module recipe for the core's tests",
    .open = open_,
    .ops = &ops,
};

KLD_PLUGIN_DEFINE(desc)
