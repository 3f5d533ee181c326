/* SPDX-License-Identifier: MIT */
/* FAT images and hybrid ISO images (see iso.h). */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "debpkg.h"
#include "iso.h"
#include "repo.h"
#include "util.h"

static int run_checked(const char *const *argv, const char *const *env)
{
	int status = 0, r = image_run(argv, env, NULL, &status);

	if (r == 0 && status != 0)
		r = err_set(-KLD_E_BUILD, "%s failed (exit status %d)", argv[0], status);
	return r;
}

/* ---- FAT ---- */

static uint64_t tree_bytes;
static int add_size(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path, (void)f;
	tree_bytes += flag == FTW_F ? ((uint64_t)st->st_size + 4095) / 4096 * 4096 : 4096;
	return 0;
}

static int fat_copy_dir(const char *img, const char *host, const char *in_img, char **env);

static int fat_copy_entry(const char *img, const char *host, const char *in_img, char **env)
{
	struct stat st;
	const char *md[] = {"mmd", "-i", img, in_img, NULL};
	const char *cp[] = {"mcopy", "-i", img, host, in_img, NULL};

	if (stat(host, &st) < 0)
		return err_set(-errno, "cannot stat %s", host);
	if (!S_ISDIR(st.st_mode))
		return run_checked(cp, (const char *const *)env);
	if (run_checked(md, (const char *const *)env) < 0)
		return -KLD_E_BUILD;
	return fat_copy_dir(img, host, in_img, env);
}

/*
 * Copy a directory's entries in sorted order, so that the FAT directories are reproducible;
 * without -m, mcopy dates every file SOURCE_DATE_EPOCH, as mkfs.fat --invariant does.
 */
static int fat_copy_dir(const char *img, const char *host, const char *in_img, char **env)
{
	char **names = NULL;
	int r = dir_names_sorted(host, &names);

	for (size_t i = 0; r == 0 && names[i]; i++) {
		_cleanup_free_ char *h = path_join(host, names[i]);
		_cleanup_free_ char *m = xasprintf("%s/%s", in_img, names[i]);

		r = fat_copy_entry(img, h, m, env);
	}
	strv_free(names);
	return r;
}

int fat_write_tree(const char *dir, const char *output, int64_t epoch)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%ld", output, (long)getpid());
	_cleanup_free_ char *sde =
	    xasprintf("SOURCE_DATE_EPOCH=%lld", (long long)debpkg_epoch(epoch));
	_cleanup_free_ char *kib = NULL;
	char *env[] = {sde, (char *)"MTOOLS_SKIP_CHECK=1", NULL};
	int r;

	tree_bytes = 0;
	if (nftw(dir, add_size, 16, FTW_PHYS) < 0)
		return err_set(-errno, "cannot read %s", dir);
	kib = xasprintf("%llu",
	                (unsigned long long)((tree_bytes * 11 / 10 + (1 << 20)) / 1024 / 1024 + 1) *
	                    1024);
	unlink(tmp);
	{
		const char *argv[] = {"mkfs.fat",    "--invariant", "-i", "4b4c4430", "-n",
		                      "KLDLOAD-EFI", "-C",          tmp,  kib,        NULL};
		r = run_checked(argv, (const char *const *)env);
	}
	if (r == 0)
		r = fat_copy_dir(tmp, dir, "::", env);
	if (r == 0 && rename(tmp, output) < 0)
		r = err_set(-errno, "cannot rename %s", tmp);
	if (r < 0)
		unlink(tmp);
	return r;
}

/* ---- ISO ---- */

/* A farm of hard links that merges the trees (later trees win), as the ISO's root. */
static const char *farm_top, *farm_src;
static int farm_add(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	const char *rel = path + strlen(farm_src);
	_cleanup_free_ char *dest = xasprintf("%s%s", farm_top, rel);

	(void)st, (void)f;
	if (flag == FTW_D)
		return mkdir(dest, 0755) < 0 && errno != EEXIST ? -1 : 0;
	unlink(dest);
	if (link(path, dest) == 0)
		return 0;
	if (flag == FTW_SL) {
		char target[4096];
		ssize_t n = readlink(path, target, sizeof(target) - 1);

		if (n < 0)
			return -1;
		target[n] = '\0';
		return symlink(target, dest);
	}
	return -1;
}

static int farm_make(const struct kld_iso_spec *s, const char *farm)
{
	int r = mkdir_p(farm, 0755);

	for (uint32_t i = 0; r == 0 && i < s->n_trees; i++) {
		farm_top = farm;
		farm_src = s->trees[i];
		if (nftw(s->trees[i], farm_add, 16, FTW_PHYS) < 0)
			r = err_set(-errno ? -errno : -EIO, "cannot merge %s into the ISO tree: %s",
			            s->trees[i], strerror(errno));
	}
	return r;
}

/* md5sum.txt: "<md5>  ./<path>" for every file of the tree, sorted by path, as Debian's. */
static FILE *md5_out;
static char **md5_lines;
static size_t md5_n;
static int md5_add(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[33];
	_cleanup_free_ char *data = NULL;
	size_t len;

	(void)st, (void)f;
	if (flag != FTW_F || strstr(path, "/isolinux/isolinux.bin") ||
	    strstr(path, "/isolinux/boot.cat"))
		return 0;
	if (read_file(path, &data, &len) < 0 || !EVP_Digest(data, len, d, &n, EVP_md5(), NULL))
		return -1;
	for (unsigned int i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	md5_lines = realloc(md5_lines, (md5_n + 1) * sizeof(char *));
	if (!md5_lines)
		abort();
	md5_lines[md5_n++] = xasprintf("%s  .%s", hex, path + strlen(farm_top));
	return 0;
}

static int cmp_md5_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a + 34, *(char *const *)b + 34);
}

static int write_md5sums(const char *farm)
{
	_cleanup_free_ char *path = path_join(farm, "md5sum.txt"), *text = NULL;
	size_t len = 0;
	int r = 0;

	unlink(path);
	farm_top = farm;
	md5_lines = NULL;
	md5_n = 0;
	if (nftw(farm, md5_add, 16, FTW_PHYS) < 0)
		r = err_set(-EIO, "cannot checksum the files of %s", farm);
	qsort(md5_lines, md5_n, sizeof(char *), cmp_md5_line);
	md5_out = open_memstream(&text, &len);
	for (size_t i = 0; i < md5_n; i++) {
		fprintf(md5_out, "%s\n", md5_lines[i]);
		free(md5_lines[i]);
	}
	fclose(md5_out);
	free(md5_lines);
	return r < 0 ? r : write_file_atomic(path, text, len, 0644);
}

struct argv_buf {
	const char *v[64];
	int n;
};

static void push(struct argv_buf *a, const char *s)
{
	if (a->n < 63)
		a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

int iso_write(const struct kld_iso_spec *s)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%ld", s->output, (long)getpid());
	_cleanup_free_ char *farm = xasprintf("%s.tree-%ld", s->output, (long)getpid());
	_cleanup_free_ char *sde =
	    xasprintf("SOURCE_DATE_EPOCH=%lld", (long long)debpkg_epoch(s->epoch));
	_cleanup_free_ char *dates = xasprintf("=%lld", (long long)debpkg_epoch(s->epoch));
	_cleanup_free_ char *efi_host = s->efi_image ? path_join(farm, s->efi_image) : NULL;
	const char *env[] = {sde, NULL};
	struct argv_buf a = {0};
	int r;

	rm_rf(farm);
	r = farm_make(s, farm);
	if (r == 0 && (s->flags & KLD_ISO_MD5SUM))
		r = write_md5sums(farm);
	if (r == 0 && efi_host && !path_exists(efi_host))
		r = err_set(-ENOENT, "the EFI image %s is in none of the ISO's trees",
		            s->efi_image);
	push(&a, "xorriso");
	push(&a, "-as");
	push(&a, "mkisofs");
	push(&a, "-quiet");
	push(&a, "-r");
	push(&a, "-J");
	push(&a, "-joliet-long");
	push(&a, "-V");
	push(&a, s->volume_id);
	push(&a, "--set_all_file_dates");
	push(&a, dates);
	push(&a, "-o");
	push(&a, tmp);
	if (s->bios_image) {
		if ((s->flags & KLD_ISO_HYBRID) && s->isohybrid_mbr) {
			push(&a, "-isohybrid-mbr");
			push(&a, s->isohybrid_mbr);
		}
		push(&a, "-b");
		push(&a, s->bios_image);
		push(&a, "-c");
		push(&a, s->bios_catalog ? s->bios_catalog : "boot.cat");
		push(&a, "-no-emul-boot");
		push(&a, "-boot-load-size");
		push(&a, "4");
		push(&a, "-boot-info-table");
	}
	if (s->efi_image) {
		if (s->bios_image)
			push(&a, "-eltorito-alt-boot");
		push(&a, "-e");
		push(&a, s->efi_image);
		push(&a, "-no-emul-boot");
		if (s->flags & KLD_ISO_HYBRID) {
			push(&a, "-isohybrid-gpt-basdat");
			push(&a, "-append_partition");
			push(&a, "2");
			push(&a, "0xef");
			push(&a, efi_host);
		}
	}
	push(&a, farm);
	if (r == 0)
		r = run_checked(a.v, env);
	if (r == 0 && rename(tmp, s->output) < 0)
		r = err_set(-errno, "cannot rename %s", tmp);
	if (r < 0)
		unlink(tmp);
	rm_rf(farm);
	return r;
}
