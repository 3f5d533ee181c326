/* SPDX-License-Identifier: MIT */
/*
 * The image services, checked by the field's own tools: dpkg-deb and lintian read the .deb,
 * gpgv and sqv check the repository's signature, apt-ftparchive-independent checks of the
 * indexes, cpio lists the initrd, mtools reads the ESP, xorriso reports the ISO's boot entries,
 * and crypt(3) checks the MOK password hash. Determinism: the same inputs give the same bytes.
 */
#include <check.h>
#include <crypt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "debpkg.h"
#include "image_service.h"
#include "iso.h"
#include "repo.h"
#include "util.h"
#include "check-main.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/kldload-image-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

static int sh(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int have(const char *prog)
{
	return sh("command -v %s >/dev/null 2>&1", prog) == 0;
}

static const char control[] = "Package: hello-modules-6.1.0-50-amd64\n"
                              "Source: kldload-hello (1.0-1+kld1)\n"
                              "Version: 1.0-1+kld1\n"
                              "Architecture: amd64\n"
                              "Maintainer: kldload <kldload@example.org>\n"
                              "Depends: linux-image-6.1.0-50-amd64 (= 6.1.176-1)\n"
                              "Provides: hello-modules\n"
                              "Section: kernel\n"
                              "Priority: optional\n"
                              "Description: test modules\n"
                              " A package written by the unit test.\n";

static void write_test_deb(const char *out)
{
	char *ko = path_join(dir, "hello.ko"), *cr = path_join(dir, "copyright");
	struct kld_deb_file files[] = {
	    {sizeof(files[0]), 0644, ko, "/lib/modules/6.1.0-50-amd64/updates/dkms/hello.ko"},
	    {sizeof(files[0]), 0644, cr, "/usr/share/doc/hello-modules-6.1.0-50-amd64/copyright"},
	};
	struct kld_deb_spec spec = {
	    sizeof(spec),
	    2,
	    control,
	    files,
	    "#!/bin/sh\nset -e\ndepmod -a 6.1.0-50-amd64\n",
	    "#!/bin/sh\nset -e\n[ \"$1\" = remove ] && depmod -a 6.1.0-50-amd64\n",
	    1700000000,
	    "kldload-hello (1.0-1+kld1) bookworm; urgency=medium\n\n"
	    "  * Test.\n\n -- kldload <kldload@example.org>  Tue, 14 Nov 2023 "
	    "22:13:20 +0000\n"};

	/* a real amd64 ELF object, as lintian checks the architecture of what it ships */
	ck_assert_int_eq(sh("printf 'int hello_init(void){return 0;}\\n' | cc -x c -c -o %s -", ko),
	                 0);
	ck_assert_int_eq(
	    write_file_atomic(cr, "Copyright: 2023 the authors\nLicense: MIT\n", 41, 0644), 0);
	ck_assert_int_eq(debpkg_write(&spec, out), 0);
	free(ko);
	free(cr);
}

START_TEST(deb_read_by_dpkg)
{
	char *deb = path_join(dir, "a.deb"), *deb2 = path_join(dir, "b.deb"), *ctl = NULL;

	unsetenv("SOURCE_DATE_EPOCH");
	write_test_deb(deb);
	ck_assert_int_eq(
	    sh("dpkg-deb --info %s | grep -q 'Package: hello-modules-6.1.0-50-amd64'", deb), 0);
	ck_assert_int_eq(sh("dpkg-deb --info %s | grep -q 'Installed-Size: [0-9]'", deb), 0);
	ck_assert_int_eq(sh("dpkg-deb --contents %s | grep -q "
	                    "'root/root .* ./lib/modules/6.1.0-50-amd64/updates/dkms/hello.ko'",
	                    deb),
	                 0);
	ck_assert_int_eq(sh("dpkg-deb --contents %s | grep -q '2023-11-14 .* ./usr/share/doc/"
	                    "hello-modules-6.1.0-50-amd64/changelog.Debian.gz'",
	                    deb),
	                 0);
	ck_assert_int_eq(sh("dpkg-deb --ctrl-tarfile %s | tar -t | grep -q './postinst'", deb), 0);
	/* the same inputs give the same bytes */
	sleep(1);
	write_test_deb(deb2);
	ck_assert_int_eq(sh("cmp -s %s %s", deb, deb2), 0);
	/* and we read back what we wrote */
	ck_assert_int_eq(debpkg_control(deb, &ctl), 0);
	ck_assert_ptr_nonnull(strstr(ctl, "Provides: hello-modules"));
	free(ctl);
	if (have("lintian"))
		ck_assert_int_eq(sh("lintian --fail-on error %s >/dev/null 2>&1", deb), 0);
	free(deb);
	free(deb2);
}
END_TEST

START_TEST(deb_extract_refuses_garbage)
{
	char *bad = path_join(dir, "bad.deb"), *dest = path_join(dir, "x");

	ck_assert_int_eq(write_file_atomic(bad, "not an archive", 14, 0644), 0);
	ck_assert_int_lt(debpkg_extract(bad, dest), 0);
	ck_assert_ptr_nonnull(strstr(err_msg(), "bad.deb"));
	free(bad);
	free(dest);
}
END_TEST

START_TEST(repo_signed_and_indexed)
{
	char *deb = path_join(dir, "a.deb"), *key = path_join(dir, "key");
	char *top = path_join(dir, "repo"), *bad = path_join(dir, "bad");
	const char *debs[] = {deb};
	struct kld_repo_spec s = {.size = sizeof(s),
	                          .n_debs = 1,
	                          .dir = top,
	                          .codename = "bookworm",
	                          .suite = "oldstable",
	                          .version = "12.15",
	                          .origin = "kldload",
	                          .arch = "amd64",
	                          .debs = debs,
	                          .key_dir = key,
	                          .epoch = 1700000000};

	write_test_deb(deb);
	ck_assert_int_eq(repo_key_ensure(key), 0);
	ck_assert_int_eq(repo_write(&s), 0);
	/* the field's verifiers accept the signature with the key, and only with it */
	ck_assert_int_eq(
	    sh("gpgv --keyring %s/public.gpg %s/dists/bookworm/InRelease 2>/dev/null", key, top),
	    0);
	if (have("sqv"))
		ck_assert_int_eq(sh("sqv --keyring %s/public.gpg %s/dists/bookworm/Release.gpg "
		                    "%s/dists/bookworm/Release >/dev/null 2>&1",
		                    key, top, top),
		                 0);
	ck_assert_int_eq(repo_key_ensure(bad), 0);
	ck_assert_int_ne(
	    sh("gpgv --keyring %s/public.gpg %s/dists/bookworm/InRelease 2>/dev/null", bad, top),
	    0);
	/* the index names the pool file, its hashes match, and the Release lists the index */
	ck_assert_int_eq(sh("cd %s && f=$(sed -n 's/^Filename: //p' dists/bookworm/main/"
	                    "binary-amd64/Packages) && test \"$f\" = pool/main/k/kldload-hello/"
	                    "hello-modules-6.1.0-50-amd64_1.0-1+kld1_amd64.deb && "
	                    "sha256sum $f | grep -q $(sed -n 's/^SHA256: //p' "
	                    "dists/bookworm/main/binary-amd64/Packages)",
	                    top),
	                 0);
	ck_assert_int_eq(sh("cd %s/dists/bookworm && for f in main/binary-amd64/Packages.xz "
	                    "main/binary-amd64/Packages.gz; do grep -q \" $(sha256sum $f | cut "
	                    "-d' ' -f1) .* $f$\" Release || exit 1; done && xz -dc "
	                    "main/binary-amd64/Packages.xz | cmp -s - main/binary-amd64/Packages",
	                    top),
	                 0);
	free(deb), free(key), free(top), free(bad);
}
END_TEST

START_TEST(cpio_and_fat)
{
	char *tree = path_join(dir, "tree"), *cpio = path_join(dir, "x.gz");
	char *img = path_join(dir, "esp.img"), *img2 = path_join(dir, "esp2.img");

	ck_assert_int_eq(mkdir_p(tree, 0755), 0);
	ck_assert_int_eq(sh("mkdir -p %s/lib/modules/k/updates %s/EFI/boot && echo x > "
	                    "%s/lib/modules/k/updates/a.ko && echo y > %s/EFI/boot/bootx64.efi",
	                    tree, tree, tree, tree),
	                 0);
	ck_assert_int_eq(cpio_write_tree(tree, cpio, 1700000000), 0);
	ck_assert_int_eq(
	    sh("zcat %s | cpio -t --quiet | grep -qx lib/modules/k/updates/a.ko", cpio), 0);
	if (have("mkfs.fat") && have("mcopy")) {
		ck_assert_int_eq(fat_write_tree(tree, img, 1700000000), 0);
		sleep(1);
		ck_assert_int_eq(fat_write_tree(tree, img2, 1700000000), 0);
		ck_assert_int_eq(sh("cmp -s %s %s", img, img2), 0);
		ck_assert_int_eq(
		    sh("MTOOLS_SKIP_CHECK=1 mtype -i %s ::/EFI/boot/bootx64.efi | grep "
		       "-qx y",
		       img),
		    0);
	}
	free(tree), free(cpio), free(img), free(img2);
}
END_TEST

START_TEST(iso_boot_entries)
{
	char *tree, *esp, *iso, *iso2, *efi;
	const char *trees[1];
	struct kld_iso_spec s = {.size = sizeof(s),
	                         .flags = KLD_ISO_HYBRID | KLD_ISO_MD5SUM,
	                         .n_trees = 1,
	                         .volume_id = "KLDLOAD TEST",
	                         .bios_image = "isolinux/isolinux.bin",
	                         .bios_catalog = "isolinux/boot.cat",
	                         .isohybrid_mbr = "/usr/lib/ISOLINUX/isohdpfx.bin",
	                         .efi_image = "boot/grub/efi.img",
	                         .epoch = 1700000000};

	/* tools/deps/image.txt installs these; the test needs the host's isolinux as a fixture. */
	ck_assert_msg(have("xorriso") && have("mkfs.fat") &&
	                  path_exists("/usr/lib/ISOLINUX/isolinux.bin"),
	              "xorriso, mkfs.fat or /usr/lib/ISOLINUX/isolinux.bin is missing");
	tree = path_join(dir, "iso"), esp = path_join(dir, "esptree");
	iso = path_join(dir, "x.iso"), iso2 = path_join(dir, "y.iso");
	efi = path_join(dir, "iso/boot/grub/efi.img");
	trees[0] = tree;
	s.trees = trees, s.output = iso;
	ck_assert_int_eq(sh("mkdir -p %s/isolinux %s/boot/grub %s/EFI/boot && cp "
	                    "/usr/lib/ISOLINUX/isolinux.bin %s/isolinux/ && echo e > "
	                    "%s/EFI/boot/bootx64.efi && echo hi > %s/readme",
	                    tree, tree, esp, tree, esp, tree),
	                 0);
	ck_assert_int_eq(fat_write_tree(esp, efi, 1700000000), 0);
	ck_assert_int_eq(iso_write(&s), 0);
	ck_assert_int_eq(sh("xorriso -indev %s -report_el_torito plain 2>/dev/null | grep -q "
	                    "'El Torito boot img :   1  BIOS' && xorriso -indev %s "
	                    "-report_el_torito plain 2>/dev/null | grep -q 'El Torito boot img :   "
	                    "2  UEFI'",
	                    iso, iso),
	                 0);
	ck_assert_int_eq(sh("xorriso -indev %s -report_system_area plain 2>/dev/null | grep -q "
	                    "'MBR isohybrid .*GPT'",
	                    iso),
	                 0);
	ck_assert_int_eq(sh("xorriso -osirrox on -indev %s -extract /md5sum.txt %s/md5 >/dev/null "
	                    "2>&1 && grep -q ' ./readme$' %s/md5",
	                    iso, dir, dir),
	                 0);
	sleep(1);
	s.output = iso2;
	ck_assert_int_eq(iso_write(&s), 0);
	ck_assert_int_eq(sh("cmp -s %s %s", iso, iso2), 0);
	free(tree), free(esp), free(iso), free(iso2), free(efi);
}
END_TEST

START_TEST(mok_password)
{
	char *pw = NULL, *hash = NULL, *pw2 = NULL, *hash2 = NULL;
	struct crypt_data cd = {0};

	ck_assert_int_eq(image_password_new(&pw, &hash), 0);
	ck_assert_int_eq(image_password_new(&pw2, &hash2), 0);
	ck_assert_uint_eq(strlen(pw), 16);
	ck_assert_str_ne(pw, pw2);
	ck_assert_int_eq(strncmp(hash, "$6$", 3), 0);
	ck_assert_ptr_null(strstr(hash, pw));
	ck_assert_str_eq(crypt_r(pw, hash, &cd), hash);
	ck_assert_str_ne(crypt_r(pw2, hash, &cd), hash);
	free(pw), free(hash), free(pw2), free(hash2);
}
END_TEST

static Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, deb_read_by_dpkg);
	tcase_add_test(tc, deb_extract_refuses_garbage);
	tcase_add_test(tc, repo_signed_and_indexed);
	tcase_add_test(tc, cpio_and_fat);
	tcase_add_test(tc, iso_boot_entries);
	tcase_add_test(tc, mok_password);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(image_suite)
