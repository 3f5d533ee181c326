/* SPDX-License-Identifier: MIT */
/*
 * The zfs recipe: OpenZFS built from the distribution's own zfs-dkms source for the image's
 * kernel, refused for a kernel outside the Linux-Minimum/Linux-Maximum its META declares. The
 * image also gets OpenZFS's userland (zfsutils-linux) and its initramfs hooks (zfs-initramfs).
 *
 * Options (--option zfs.KEY=VALUE):
 *   source    the source package (default "zfs-dkms")
 *   runtime   comma-separated runtime packages (default "zfsutils-linux,zfs-initramfs")
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kldload/build.h>
#include <kldload/kldload.h>

struct zfs_state {
	const struct kld_host *host;
};

static int zfs_open(struct kld_ctx *ctx, const struct kld_host *host, void **state)
{
	struct zfs_state *s;

	if (!KLD_HOST_HAS(host, service) || !KLD_HOST_HAS(host, need))
		return host->error(ctx, -KLD_E_UNSUPPORTED, "this kldload is too old for recipes");
	s = host->alloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	*state = s;
	return 0;
}

static void zfs_close(struct kld_ctx *ctx, void *state)
{
	struct zfs_state *s = state;

	(void)ctx;
	if (s)
		s->host->free(s);
}

static const char *opt(struct kld_ctx *ctx, const struct kld_host *h, const char *key,
                       const char *def)
{
	const char *v = h->option(ctx, key);

	return v && *v ? v : def;
}

static int zfs_declare(struct kld_ctx *ctx, void *state, const char *kernel_release)
{
	struct zfs_state *s = state;
	const struct kld_host *h = s->host;
	char list[512];
	int r = h->need(ctx, KLD_NEED_SOURCE, opt(ctx, h, "source", "zfs-dkms"));

	(void)kernel_release;
	snprintf(list, sizeof(list), "%s", opt(ctx, h, "runtime", "zfsutils-linux,zfs-initramfs"));
	for (char *save = NULL, *p = strtok_r(list, ",", &save); p && r >= 0;
	     p = strtok_r(NULL, ",", &save))
		r = h->need(ctx, KLD_NEED_RUNTIME, p);
	return r;
}

/* "6.1.0-50-amd64" or "6.2" -> 6 * 1000 + 1; -1 when it does not start with N.N. */
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

/* The value of "Key:" in META text, copied to buf; NULL when absent. */
static const char *meta_field(const char *meta, const char *key, char *buf, size_t size)
{
	size_t n = strlen(key);

	for (const char *l = meta; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, n) || l[n] != ':')
			continue;
		if (sscanf(l + n + 1, " %63s", buf) == 1 && size > 63)
			return buf;
	}
	return NULL;
}

static int check_kernel(struct kld_ctx *ctx, const struct kld_host *h, const char *meta,
                        const char *release)
{
	char lo[64], hi[64], ver[64];
	const char *min = meta_field(meta, "Linux-Minimum", lo, sizeof(lo));
	const char *max = meta_field(meta, "Linux-Maximum", hi, sizeof(hi));
	const char *zv = meta_field(meta, "Version", ver, sizeof(ver));
	long k = major_minor(release);

	if (k < 0)
		return h->error(ctx, -KLD_E_UNSUPPORTED, "cannot read a version from kernel %s",
		                release);
	if ((min && k < major_minor(min)) || (max && k > major_minor(max)))
		return h->error(
		    ctx, -KLD_E_UNSUPPORTED,
		    "OpenZFS %s supports Linux %s to %s (its META); kernel %s is outside "
		    "that range",
		    zv ? zv : "?", min ? min : "?", max ? max : "?", release);
	h->log(ctx, KLD_LOG_INFO, "OpenZFS %s supports Linux %s to %s: kernel %s is fine",
	       zv ? zv : "?", min ? min : "?", max ? max : "?", release);
	return 0;
}

static int zfs_build(struct kld_ctx *ctx, void *state)
{
	struct zfs_state *s = state;
	const struct kld_host *h = s->host;
	const struct kld_build_service *b = h->service(ctx, KLD_BUILD_SERVICE);
	const char *pkg = opt(ctx, h, "source", "zfs-dkms");
	char *meta_path = NULL, *meta = NULL;
	int r;

	if (!b || !KLD_TABLE_HAS(b, struct kld_build_service, dkms_build))
		return h->error(ctx, -KLD_E_UNSUPPORTED, "this kldload has no %s service",
		                KLD_BUILD_SERVICE);
	r = b->package_file(ctx, pkg, "/META", &meta_path);
	if (r < 0)
		return h->error(ctx, r, "%s has no OpenZFS META file", pkg);
	r = b->read_file(ctx, meta_path, &meta, NULL);
	if (r >= 0)
		r = check_kernel(ctx, h, meta, b->kernel_release(ctx));
	if (r >= 0) {
		*strrchr(meta_path, '/') = '\0';
		r = b->dkms_build(ctx, meta_path, NULL);
	}
	h->free(meta);
	h->free(meta_path);
	return r;
}

static const struct kld_module_ops zfs_ops = {
    .size = sizeof(struct kld_module_ops),
    .declare = zfs_declare,
    .build = zfs_build,
};

static const struct kld_plugin zfs_plugin = {
    KLD_PLUGIN_HEAD(KLD_KIND_MODULE),
    .name = "zfs",
    .version = "1.0.0",
    .license = "MIT",
    .origin = "kldload",
    .summary = "OpenZFS from the distribution's zfs-dkms, with zfsutils-linux and zfs-initramfs",
    .open = zfs_open,
    .close = zfs_close,
    .ops = &zfs_ops,
};

KLD_PLUGIN_DEFINE(zfs_plugin)
