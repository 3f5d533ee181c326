/* SPDX-License-Identifier: MIT */
/*
 * The nvidia recipe: NVIDIA's GPU driver modules, built from the distribution's own packages
 * for the image's kernel. On Debian the driver's kernel part is a DKMS package of the
 * nvidia-graphics-drivers source (non-free): its build compiles NVIDIA's kernel interface layer
 * and links NVIDIA's binary objects (nv-kernel.o_binary) into nvidia.ko. The package's dkms.conf
 * carries the driver's supported-kernel rules (Linux 3.10 and later, no PREEMPT_RT kernel),
 * which the build honours and reports; the image gets the matching userland driver packages,
 * and its boot configuration blacklists nouveau.
 *
 * Options (--option nvidia.KEY=VALUE):
 *   flavour   current (default): nvidia-kernel-dkms and nvidia-driver;
 *             tesla, tesla-<branch> (e.g. tesla-535): nvidia-tesla[-<branch>]-kernel-dkms and
 *             nvidia-tesla[-<branch>]-driver, the data-centre branches;
 *             open: nvidia-open-kernel-dkms (contrib), NVIDIA's open kernel modules for Turing
 *             and later GPUs, with nvidia-driver
 *   source    the -dkms package, instead of the flavour's
 *   runtime   comma-separated userland packages, instead of the flavour's driver package
 *             (e.g. "nvidia-kernel-support,nvidia-smi" for a headless compute node)
 *   early_kms 1: the modules go into the installed system's initramfs and the kernel command
 *             line gets nvidia-drm.modeset=1 (early kernel mode setting)
 *   module_name  the name the -dkms package gives nvidia.ko (its dkms.conf's PACKAGE_NAME:
 *             nvidia-current, nvidia-current-open, nvidia-tesla-535, ...), for early_kms with
 *             a `source` of another name
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kldload/build.h>
#include <kldload/kldload.h>

struct nv_flavour {
	char source[128];  /* the -dkms package */
	char runtime[512]; /* comma-separated userland packages */
	char modname[64];  /* its dkms.conf's PACKAGE_NAME, the name of its nvidia.ko */
};

static const struct kld_host *host;

static int nv_open(struct kld_ctx *ctx, const struct kld_host *h, void **state)
{
	(void)state;
	host = h;
	if (!KLD_HOST_HAS(h, service) || !KLD_HOST_HAS(h, need))
		return h->error(ctx, -KLD_E_UNSUPPORTED, "this kldload is too old for recipes");
	return 0;
}

static const char *option(struct kld_ctx *ctx, const char *key, const char *fallback)
{
	const char *v = host->option(ctx, key);

	return v && *v ? v : fallback;
}

/* "tesla-535" -> "535"; NULL when `f` is not tesla-<digits>. */
static const char *tesla_branch(const char *f)
{
	const char *b = f + 6;

	if (strncmp(f, "tesla-", 6) || !*b || strspn(b, "0123456789") != strlen(b) || strlen(b) > 8)
		return NULL;
	return b;
}

static int flavour_of(struct kld_ctx *ctx, struct nv_flavour *fl)
{
	const char *f = option(ctx, "flavour", "current"), *branch = tesla_branch(f);

	if (!strcmp(f, "current") || !strcmp(f, "open")) {
		snprintf(fl->source, sizeof(fl->source), "nvidia-%skernel-dkms",
		         strcmp(f, "open") ? "" : "open-");
		snprintf(fl->runtime, sizeof(fl->runtime), "nvidia-driver");
		snprintf(fl->modname, sizeof(fl->modname), "nvidia-current%s",
		         strcmp(f, "open") ? "" : "-open");
	} else if (!strcmp(f, "tesla") || branch) {
		snprintf(fl->source, sizeof(fl->source), "nvidia-tesla%s%s-kernel-dkms",
		         branch ? "-" : "", branch ? branch : "");
		snprintf(fl->runtime, sizeof(fl->runtime), "nvidia-tesla%s%s-driver",
		         branch ? "-" : "", branch ? branch : "");
		snprintf(fl->modname, sizeof(fl->modname), "nvidia-tesla%s%s", branch ? "-" : "",
		         branch ? branch : "");
	} else {
		return host->error(
		    ctx, -KLD_E_CONFIG,
		    "unknown flavour '%s': use current, open, tesla or tesla-<branch> "
		    "(e.g. tesla-535)",
		    f);
	}
	if (option(ctx, "source", NULL))
		snprintf(fl->source, sizeof(fl->source), "%s", option(ctx, "source", NULL));
	if (option(ctx, "runtime", NULL))
		snprintf(fl->runtime, sizeof(fl->runtime), "%s", option(ctx, "runtime", NULL));
	if (option(ctx, "module_name", NULL))
		snprintf(fl->modname, sizeof(fl->modname), "%s", option(ctx, "module_name", NULL));
	return 0;
}

/*
 * Kernel command line and initramfs needs: kinds of plugin ABI 1.1. The initramfs gets the
 * modules by their file names (nvidia-current-drm): initramfs-tools ignores the "install"
 * lines through which Debian's nvidia-kernel-support maps nvidia-drm to them.
 */
static int boot_needs(struct kld_ctx *ctx, const struct nv_flavour *fl)
{
	static const char *const early[] = {"", "-modeset", "-drm"};
	char name[96];
	int r;

	if (host->abi_minor < 1) {
		host->log(ctx, KLD_LOG_WARN,
		          "this kldload (plugin ABI %u.%u) cannot blacklist nouveau in the image",
		          host->abi_major, host->abi_minor);
		return 0;
	}
	/* nouveau would claim the GPU first; the proprietary modules need it left alone. */
	r = host->need(ctx, KLD_NEED_CMDLINE, "modprobe.blacklist=nouveau");
	if (r < 0 || strcmp(option(ctx, "early_kms", "0"), "1"))
		return r;
	for (size_t i = 0; i < sizeof(early) / sizeof(early[0]) && r >= 0; i++) {
		snprintf(name, sizeof(name), "%s%s", fl->modname, early[i]);
		r = host->need(ctx, KLD_NEED_INITRAMFS, name);
	}
	return r < 0 ? r : host->need(ctx, KLD_NEED_CMDLINE, "nvidia-drm.modeset=1");
}

static int nv_declare(struct kld_ctx *ctx, void *state, const char *kernel_release)
{
	struct nv_flavour fl;
	int r = flavour_of(ctx, &fl);

	(void)state;
	(void)kernel_release;
	if (r >= 0)
		r = host->need(ctx, KLD_NEED_SOURCE, fl.source);
	for (char *save = NULL, *p = strtok_r(fl.runtime, ",", &save); p && r >= 0;
	     p = strtok_r(NULL, ",", &save))
		r = host->need(ctx, KLD_NEED_RUNTIME, p);
	return r < 0 ? r : boot_needs(ctx, &fl);
}

static int nv_build(struct kld_ctx *ctx, void *state)
{
	const struct kld_build_service *b = host->service(ctx, KLD_BUILD_SERVICE);
	struct nv_flavour fl;
	char *conf = NULL;
	int r = flavour_of(ctx, &fl);

	(void)state;
	if (r < 0)
		return r;
	if (!b || !KLD_TABLE_HAS(b, struct kld_build_service, dkms_build))
		return host->error(ctx, -KLD_E_UNSUPPORTED, "this kldload has no %s service",
		                   KLD_BUILD_SERVICE);
	r = b->package_file(ctx, fl.source, "/dkms.conf", &conf);
	if (r < 0)
		return host->error(ctx, r, "%s carries no dkms.conf: not NVIDIA's DKMS package",
		                   fl.source);
	*strrchr(conf, '/') = '\0';
	host->log(ctx, KLD_LOG_INFO, "building %s from %s for kernel %s", conf, fl.source,
	          b->kernel_release(ctx));
	/* The dkms.conf's BUILD_EXCLUSIVE_KERNEL/CONFIG are the driver's kernel rules. */
	r = b->dkms_build(ctx, conf, NULL);
	host->free(conf);
	return r;
}

static const struct kld_module_ops nv_ops = {
    .size = sizeof(nv_ops),
    .declare = nv_declare,
    .build = nv_build,
};

static const struct kld_plugin nv_plugin = {
    KLD_PLUGIN_HEAD(KLD_KIND_MODULE),
    .name = "nvidia",
    .version = "1.0.0",
    .license = "MIT; builds NVIDIA proprietary",
    .origin = "kldload; driver from the distribution's nvidia-graphics-drivers packages",
    .summary = "NVIDIA's GPU driver modules from the release's nvidia-kernel-dkms (non-free)",
    .open = nv_open,
    .ops = &nv_ops,
};

KLD_PLUGIN_DEFINE(nv_plugin)
