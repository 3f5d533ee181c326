/* SPDX-License-Identifier: MIT */
/*
 * A distro driver for the core's tests. It implements fetch and resolve only; options steer it:
 *   testdistro.fail=STAGE    fail that stage with a message
 *   testdistro.file=NAME     name of the file fetch writes and publishes (default: metadata)
 *   testdistro.label=LABEL   label it is published under (default: metadata)
 * and the environment (so that the plan, and with it the stages' inputs, stay the same):
 *   TESTDISTRO_BLOCK=STAGE   write a partial file, touch <work>/blocked, then wait to be cancelled
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kldload/kldload.h>

static const struct kld_host *host;

static int open_(struct kld_ctx *ctx, const struct kld_host *h, void **state)
{
	host = h;
	*state = NULL;
	return 0;
}

static int write_text(struct kld_ctx *ctx, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", host->stage_dir(ctx, NULL), name);
	f = fopen(path, "w");
	if (!f)
		return host->error(ctx, -errno, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
	return 0;
}

static int steer(struct kld_ctx *ctx, const char *stage)
{
	const char *fail = host->option(ctx, "fail");
	const char *block = getenv("TESTDISTRO_BLOCK");
	char marker[4096];

	if (fail && strcmp(fail, stage) == 0)
		return host->error(ctx, -KLD_E_UNSAT, "asked to fail stage %s", stage);
	if (!block || strcmp(block, stage) != 0)
		return 0;
	write_text(ctx, "partial", "half-written\n");
	snprintf(marker, sizeof(marker), "%s/blocked", host->plan(ctx, "work_dir"));
	fclose(fopen(marker, "w"));
	for (int i = 0; i < 6000 && !host->cancelled(ctx); i++)
		usleep(10000);
	return host->cancelled(ctx) ? -KLD_E_CANCELLED
	                            : host->error(ctx, -ETIMEDOUT, "not cancelled");
}

static int fetch(struct kld_ctx *ctx, void *state)
{
	char text[512];
	const char *release = host->plan(ctx, "release");
	const char *file = host->option(ctx, "file"), *label = host->option(ctx, "label");
	int r = steer(ctx, "fetch");

	if (r < 0)
		return r;
	snprintf(text, sizeof(text), "release=%s\nstage=%s\n", release ? release : "(default)",
	         host->plan(ctx, "stage"));
	r = write_text(ctx, file ? file : "metadata", text);
	return r < 0 ? r : host->publish(ctx, label ? label : "metadata", file ? file : "metadata");
}

static int resolve(struct kld_ctx *ctx, void *state)
{
	const struct kld_need *const *needs;
	const char *kernel = host->option(ctx, "kernel");
	char line[512], text[4096] = "";
	int r = steer(ctx, "resolve");

	if (r < 0)
		return r;
	if (!host->stage_dir(ctx, "fetch"))
		return host->error(ctx, -ENOENT, "no fetch output");
	needs = host->module_needs(ctx, kernel ? kernel : "6.1.0-test-amd64");
	if (!needs)
		return -KLD_E_UNSUPPORTED;
	for (size_t i = 0; needs[i]; i++) {
		snprintf(line, sizeof(line), "%s %u %s\n", needs[i]->module, needs[i]->kind,
		         needs[i]->package);
		strncat(text, line, sizeof(text) - strlen(text) - 1);
	}
	r = write_text(ctx, "needs", text);
	return r < 0 ? r : host->publish(ctx, "needs", "needs");
}

static const struct kld_distro_ops ops = {
    .size = sizeof(ops),
    .fetch = fetch,
    .resolve = resolve,
};

static const struct kld_plugin desc = {
    KLD_PLUGIN_HEAD(KLD_KIND_DISTRO),
    .name = "testdistro",
    .version = "1.0",
    .license = "MIT",
    .origin = "kldload tests",
    .summary = "distro driver for the core's tests",
    .open = open_,
    .ops = &ops,
};

KLD_PLUGIN_DEFINE(desc)
