/* SPDX-License-Identifier: MIT */
/*
 * A distro driver built against the frozen headers of the first SDK (tests/abi/sdk-1.0). The
 * current core must keep loading and running it, forever: see docs/plugin-abi.md.
 */
#include <errno.h>
#include <stdio.h>

#include <kldload/kldload.h>

#if KLD_ABI_MAJOR != 1 || KLD_ABI_MINOR != 0
#error "old_plugin must be built against the frozen SDK 1.0 headers"
#endif

static const struct kld_host *host;

static int open_(struct kld_ctx *ctx, const struct kld_host *h, void **state)
{
	host = h;
	return 0;
}

static int fetch(struct kld_ctx *ctx, void *state)
{
	const char *greeting = host->option(ctx, "greeting");
	char path[4096];
	FILE *f;

	host->log(ctx, KLD_LOG_INFO, "built against SDK %u.%u, host is %u.%u", KLD_ABI_MAJOR,
	          KLD_ABI_MINOR, host->abi_major, host->abi_minor);
	snprintf(path, sizeof(path), "%s/hello", host->stage_dir(ctx, NULL));
	f = fopen(path, "w");
	if (!f)
		return host->error(ctx, -errno, "cannot create %s", path);
	fprintf(f, "%s from ABI 1.0\n", greeting ? greeting : "hello");
	fclose(f);
	return host->publish(ctx, "hello", "hello");
}

static const struct kld_distro_ops ops = {
    .size = sizeof(ops),
    .fetch = fetch,
};

static const struct kld_plugin desc = {
    KLD_PLUGIN_HEAD(KLD_KIND_DISTRO),
    .name = "oldabi",
    .version = "1.0",
    .license = "MIT",
    .origin = "kldload tests",
    .summary = "built against the frozen SDK 1.0 headers",
    .open = open_,
    .ops = &ops,
};

KLD_PLUGIN_DEFINE(desc)
