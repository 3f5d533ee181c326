/* SPDX-License-Identifier: MIT */
/* The service "kld.image/1" (sdk/include/kldload/image.h). */
#include <crypt.h>
#include <string.h>
#include <sys/random.h>

#include <kldload/image.h>

#include "cache.h"
#include "ctx.h"
#include "debpkg.h"
#include "fetch_service.h"
#include "image_service.h"
#include "iso.h"
#include "lock.h"
#include "repo.h"
#include "util.h"

/* Move the core's last error message onto the plugin's context. */
static int to_ctx(struct kld_ctx *ctx, int code)
{
	const char *m = err_msg();

	if (code >= 0)
		return code;
	return ctx_error(ctx, code, "%s", m && *m ? m : err_str(code));
}

static void pkgs_free(struct kld_image_pkg **pkgs, uint32_t n)
{
	for (uint32_t i = 0; pkgs && i < n; i++) {
		free((char *)pkgs[i]->name);
		free((char *)pkgs[i]->version);
		free((char *)pkgs[i]->arch);
		free((char *)pkgs[i]->file);
		free((char *)pkgs[i]->tags);
		free(pkgs[i]);
	}
	free(pkgs);
}

static int lock_packages(struct kld_ctx *ctx, const char *lock_path, const char *tag,
                         struct kld_image_pkg ***out, uint32_t *n_out)
{
	const struct plan *plan = ctx_plan(ctx);
	struct lock lock = {0};
	struct cache cache = {0};
	struct kld_image_pkg **pkgs = NULL;
	uint32_t n = 0;
	int r = fetch_lock_file(plan, lock_path, tag);

	if (r == 0)
		r = lock_load(lock_path, &lock);
	if (r == 0)
		r = cache_open(&cache, plan ? plan_get(plan, "cache_dir") : NULL);
	if (r == 0)
		pkgs = xcalloc(lock.n_entries + 1, sizeof(*pkgs));
	for (size_t i = 0; r == 0 && i < lock.n_entries; i++) {
		const struct lock_entry *e = &lock.entries[i];

		if (tag && !lock_entry_has_tag(e, tag))
			continue;
		pkgs[n] = xcalloc(1, sizeof(**pkgs));
		*pkgs[n] = (struct kld_image_pkg){
		    .size = sizeof(**pkgs),
		    .name = xstrdup(e->name),
		    .version = xstrdup(e->version),
		    .arch = xstrdup(e->arch),
		    .file = lock_entry_path(&cache, e),
		    .tags = xstrdup(e->tags ? e->tags : ""),
		};
		n++;
	}
	lock_clear(&lock);
	cache_release(&cache);
	if (r < 0) {
		pkgs_free(pkgs, n);
		return to_ctx(ctx, r);
	}
	*out = pkgs;
	*n_out = n;
	return 0;
}

static int deb_extract(struct kld_ctx *ctx, const char *deb, const char *dest)
{
	return to_ctx(ctx, debpkg_extract(deb, dest));
}

static int deb_control(struct kld_ctx *ctx, const char *deb, char **text)
{
	return to_ctx(ctx, debpkg_control(deb, text));
}

static int deb_write(struct kld_ctx *ctx, const struct kld_deb_spec *spec, const char *output)
{
	return to_ctx(ctx, debpkg_write(spec, output));
}

static int repo_key(struct kld_ctx *ctx, const char *dir)
{
	return to_ctx(ctx, repo_key_ensure(dir));
}

static int repo_write_svc(struct kld_ctx *ctx, const struct kld_repo_spec *spec)
{
	return to_ctx(ctx, repo_write(spec));
}

static int cpio_write(struct kld_ctx *ctx, const char *dir, const char *output, int64_t epoch)
{
	return to_ctx(ctx, cpio_write_tree(dir, output, epoch));
}

static int fat_write(struct kld_ctx *ctx, const char *dir, const char *output, int64_t epoch)
{
	return to_ctx(ctx, fat_write_tree(dir, output, epoch));
}

static int iso_write_svc(struct kld_ctx *ctx, const struct kld_iso_spec *spec)
{
	return to_ctx(ctx, iso_write(spec));
}

/* No 0/O, 1/l/I: the password is read off a screen and typed at MokManager's prompt. */
static const char pw_alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";

int image_password_new(char **password, char **hash)
{
	unsigned char rnd[16], salt_rnd[16];
	char pw[sizeof(rnd) + 1], salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd = {0};
	const char *h;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd) ||
	    getrandom(salt_rnd, sizeof(salt_rnd), 0) != sizeof(salt_rnd))
		return err_set(-EIO, "no random numbers: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(rnd); i++)
		pw[i] = pw_alphabet[rnd[i] % (sizeof(pw_alphabet) - 1)];
	pw[sizeof(rnd)] = '\0';
	if (!crypt_gensalt_rn("$6$", 0, (const char *)salt_rnd, sizeof(salt_rnd), salt,
	                      sizeof(salt)))
		return err_set(-EIO, "crypt_gensalt: %s", strerror(errno));
	h = crypt_r(pw, salt, &cd);
	if (!h || h[0] != '$')
		return err_set(-EIO, "crypt: SHA-512 is not available");
	*password = xstrdup(pw);
	*hash = xstrdup(h);
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(&cd, sizeof(cd));
	return 0;
}

static int password_new(struct kld_ctx *ctx, char **password, char **hash)
{
	return to_ctx(ctx, image_password_new(password, hash));
}

static int run_svc(struct kld_ctx *ctx, const char *const *argv, int32_t *status)
{
	int st = 0, r = image_run(argv, NULL, NULL, &st);

	if (r == 0)
		*status = st;
	return to_ctx(ctx, r);
}

const struct kld_image image_service = {
    .size = sizeof(struct kld_image),
    .lock_packages = lock_packages,
    .lock_packages_free = pkgs_free,
    .deb_extract = deb_extract,
    .deb_control = deb_control,
    .deb_write = deb_write,
    .repo_key = repo_key,
    .repo_write = repo_write_svc,
    .cpio_write = cpio_write,
    .fat_write = fat_write,
    .iso_write = iso_write_svc,
    .password_new = password_new,
    .run = run_svc,
};
