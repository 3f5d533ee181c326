/* SPDX-License-Identifier: MIT */
/*
 * boot-config: the boot loaders' menus (isolinux for BIOS, the signed GRUB for UEFI) with
 * Debian's entries (install, graphical install, expert, rescue, automated) and a serial-console
 * entry; the EFI system partition image; an extra initrd (a cpio the kernel merges with the
 * installer's own) holding the signed modules and their dependency data; the preseed file
 * that installs the module packages from the offline repository and queues the MOK enrolment
 * with a one-time password; and the hybrid ISO itself.
 *
 * Output (<work>/boot-config/):
 *   overlay/      files laid over assemble's cd/ tree in the ISO
 *   <name>.iso    the image (published as "image")
 *   mok-password.sha512   the enrolment password's hash (the password itself is printed once)
 *
 * Options: debian.mok_hash (a file with the enrolment password's hash, to reuse an earlier
 * image's password), debian.new_mok_password=1, debian.late_command (appended to the preseed's
 * late command), debian.cmdline (kernel options for the installer and the installed system,
 * e.g. "zfs.zfs_arc_max=536870912"), debian.boot_default (install, graphical, expert, rescue, automated, serial;
 * default install), debian.boot_timeout (seconds, 0 waits; default 0), debian.disk (the
 * automated install's target disk, default /dev/vda), debian.iso_name.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assemble.h"

struct bc_run {
	struct deb *d;
	struct kld_ctx *ctx;
	const struct kld_image *im;
	const char *out, *asm_dir;
	char *info, *codename, *version, *arch, *kernel;
	char *modpkgs; /* space-separated module package names */
	char *runtime; /* space-separated runtime packages */
	char *password, *hash;
	char *cmdline; /* " " + debian.cmdline and recipes' options, or "": installer and target */
	int64_t epoch;
};

static void bc_clear(struct bc_run *r)
{
	free(r->info), free(r->codename), free(r->version), free(r->arch), free(r->kernel);
	free(r->modpkgs), free(r->runtime), free(r->hash), free(r->cmdline);
	if (r->password) {
		memset(r->password, 0, strlen(r->password));
		r->d->host->free(r->password);
	}
}

static const char *opt(struct bc_run *r, const char *key, const char *dflt)
{
	const char *v = r->d->host->option(r->ctx, key);

	return v && *v ? v : dflt;
}

static int put(struct bc_run *r, const char *rel, const char *text)
{
	char *path = str_printf("%s/overlay/%s", r->out, rel);
	int ret = write_text(path, text);

	if (ret < 0)
		ret = r->d->host->error(r->ctx, ret, "cannot write %s: %s", path, strerror(-ret));
	free(path);
	return ret;
}

/* ---- menus ---- */

struct entry {
	const char *id, *label, *kernel, *initrd, *args;
};

/* The extra initrd made for an entry's installer initrd. */
static const char *extra_initrd(const struct entry *e)
{
	return strstr(e->initrd, "/gtk/") ? "/install.amd/kldload-gtk.gz"
	                                  : "/install.amd/kldload.gz";
}

#define CD_PRESEED "preseed/file=/cdrom/kldload/preseed.cfg"

static void entries(struct bc_run *r, struct entry e[6])
{
	static char auto_args[512];

	snprintf(auto_args, sizeof(auto_args),
	         "auto=true priority=critical %s console=ttyS0,115200n8", CD_PRESEED);
	(void)r;
	e[0] = (struct entry){"install", "Install", "/install.amd/vmlinuz",
	                      "/install.amd/initrd.gz", "vga=788 quiet"};
	e[1] = (struct entry){"graphical", "Graphical install", "/install.amd/gtk/vmlinuz",
	                      "/install.amd/gtk/initrd.gz", "vga=788 quiet"};
	e[2] = (struct entry){"expert", "Expert install", "/install.amd/vmlinuz",
	                      "/install.amd/initrd.gz", "priority=low vga=788"};
	e[3] = (struct entry){"rescue", "Rescue mode", "/install.amd/vmlinuz",
	                      "/install.amd/initrd.gz", "rescue/enable=true vga=788 quiet"};
	e[4] = (struct entry){"automated", "Automated install (kldload preseed, serial console)",
	                      "/install.amd/vmlinuz", "/install.amd/initrd.gz", auto_args};
	e[5] = (struct entry){"serial", "Install on the serial console (ttyS0)",
	                      "/install.amd/vmlinuz", "/install.amd/initrd.gz",
	                      "console=ttyS0,115200n8"};
}

static int isolinux_cfg(struct bc_run *r, const struct entry *e, const char *cmdline_extra)
{
	const char *dflt = opt(r, "boot_default", "install");
	int timeout = atoi(opt(r, "boot_timeout", "0")) * 10;
	char *text = str_printf("# made by kldload\nSERIAL 0 115200\nUI menu.c32\n"
	                        "MENU TITLE Debian GNU/Linux %s installer (kldload)\n"
	                        "DEFAULT %s\nTIMEOUT %d\nPROMPT 0\n",
	                        r->version, dflt, timeout);
	int ret;

	for (int i = 0; i < 6; i++) {
		char *t = str_printf("%s\nLABEL %s\n  MENU LABEL %s\n  KERNEL %s\n"
		                     "  APPEND initrd=%s,%s %s%s ---\n",
		                     text, e[i].id, e[i].label, e[i].kernel, e[i].initrd,
		                     extra_initrd(&e[i]), e[i].args, cmdline_extra);
		free(text);
		text = t;
	}
	ret = put(r, "isolinux/isolinux.cfg", text);
	free(text);
	return ret;
}

static int grub_cfg(struct bc_run *r, const struct entry *e, const char *cmdline_extra)
{
	const char *dflt = opt(r, "boot_default", "install");
	int timeout = atoi(opt(r, "boot_timeout", "0")), def = 0;
	char *text;
	int ret;

	for (int i = 0; i < 6; i++)
		if (!strcmp(e[i].id, dflt))
			def = i;
	text = str_printf("# made by kldload\nserial --unit=0 --speed=115200\n"
	                  "terminal_input console serial\nterminal_output console serial\n"
	                  "set default=%d\nset timeout=%d\n",
	                  def, timeout > 0 ? timeout : -1);
	for (int i = 0; i < 6; i++) {
		char *t = str_printf("%s\nmenuentry '%s' --id %s {\n\tset background_color=black\n"
		                     "\tlinux %s %s%s ---\n\tinitrd %s %s\n}\n",
		                     text, e[i].label, e[i].id, e[i].kernel, e[i].args,
		                     cmdline_extra, e[i].initrd, extra_initrd(&e[i]));
		free(text);
		text = t;
	}
	ret = put(r, "boot/grub/grub.cfg", text);
	free(text);
	return ret;
}

/* ---- the preseed ---- */

/*
 * The installer installs from the medium itself (its cdrom: source, as from Debian's own
 * media), then the late command makes the installed system trust kldload's signed repository
 * on the medium (Signed-By its key) and queues the enrolment of the module signing
 * certificate, which MokManager completes at the next boot when the password is typed.
 * The root password is the same one-time password (its SHA-512 crypt hash only is here).
 */
static const char preseed_fmt[] =
    "# Answers for Debian's installer, made by kldload: an offline install from this medium.\n"
    "d-i debian-installer/locale string en_US.UTF-8\n"
    "d-i keyboard-configuration/xkb-keymap select us\n"
    "d-i netcfg/enable boolean false\n"
    "d-i netcfg/get_hostname string kldload\n"
    "d-i netcfg/get_domain string\n"
    "d-i hw-detect/load_firmware boolean false\n"
    "d-i passwd/root-login boolean true\n"
    "d-i passwd/make-user boolean false\n"
    "d-i passwd/root-password-crypted password %s\n"
    "d-i clock-setup/utc boolean true\n"
    "d-i time/zone string UTC\n"
    "d-i clock-setup/ntp boolean false\n"
    "d-i partman-auto/disk string %s\n"
    "d-i partman-auto/method string regular\n"
    "d-i partman-auto/choose_recipe select atomic\n"
    "d-i partman-partitioning/confirm_write_new_label boolean true\n"
    "d-i partman/choose_partition select finish\n"
    "d-i partman/confirm boolean true\n"
    "d-i partman/confirm_nooverwrite boolean true\n"
    "d-i base-installer/initramfs-tools/driver-policy select dep\n"
    "d-i base-installer/kernel/image string linux-image-%s\n"
    "d-i apt-setup/use_mirror boolean false\n"
    "d-i apt-setup/cdrom/set-first boolean false\n"
    "d-i apt-setup/cdrom/set-next boolean false\n"
    "d-i apt-setup/cdrom/set-failed boolean false\n"
    "tasksel tasksel/first multiselect\n"
    "d-i pkgsel/include string %s %s mokutil\n"
    "d-i pkgsel/upgrade select none\n"
    "popularity-contest popularity-contest/participate boolean false\n"
    "d-i grub-installer/only_debian boolean true\n"
    "d-i grub-installer/bootdev string %s\n"
    "d-i debian-installer/add-kernel-opts string console=ttyS0,115200n8%s\n"
    "d-i preseed/late_command string "
    "mkdir -p /target/etc/apt/keyrings; "
    "cp /cdrom/kldload/repo-key.gpg /target/etc/apt/keyrings/kldload.gpg; "
    "printf 'Types: deb\\nURIs: file:///media/cdrom\\nSuites: %s\\nComponents: main\\n"
    "Signed-By: /etc/apt/keyrings/kldload.gpg\\nEnabled: no\\n' "
    "> /target/etc/apt/sources.list.d/kldload.sources; "
    "cp /cdrom/kldload/signing-cert.der /cdrom/kldload/mok-password.sha512 /target/root/; "
    "in-target sh -c 'if [ -d /sys/firmware/efi ]; then mokutil --import "
    "/root/signing-cert.der --hash-file /root/mok-password.sha512; fi'%s%s\n"
    "d-i finish-install/reboot_in_progress note\n"
    "d-i debian-installer/exit/poweroff boolean true\n";

static int preseed(struct bc_run *r)
{
	const char *disk = opt(r, "disk", "/dev/vda");
	const char *extra = opt(r, "late_command", "");
	char *text = str_printf(preseed_fmt, r->hash, disk, r->kernel, r->modpkgs, r->runtime, disk,
	                        r->cmdline, r->codename, *extra ? "; " : "", extra);
	int ret = put(r, "kldload/preseed.cfg", text);

	if (ret == 0)
		ret = put(r, "kldload/mok-password.sha512", r->hash);
	free(text);
	return ret;
}

/* ---- the extra initrd ---- */

/*
 * The script that makes the extra initrd's tree for the installer initrd `initrd`: the signed
 * modules under lib/modules/<k>/updates, and the installer's module index regenerated by depmod
 * over the installer's own modules plus them (the appended files replace the first initrd's).
 */
static const char initrd_script[] =
    "set -e; s='%s'; t='%s'; k='%s'; rm -rf \"$s\" \"$t\"; mkdir -p \"$s\" \"$t\"; "
    "cd \"$s\"; zcat '%s' | cpio -id --quiet 'lib/modules/*' 'usr/lib/modules/*'; "
    /* a merged-/usr initrd (lib -> usr/lib): the extra files must not replace the link */
    "l=lib/modules; [ -d \"$s/usr/lib/modules/$k\" ] && l=usr/lib/modules; "
    "for m in '%s'/*; do [ -d \"$m\" ] || continue; (cd \"$m\"; find . -name '*.ko*' | "
    "while read f; do d=${f#./}; d=${d#updates/}; for r in \"$s\" \"$t\"; do "
    "mkdir -p \"$(dirname \"$r/$l/$k/updates/$d\")\"; "
    "cp \"$f\" \"$r/$l/$k/updates/$d\"; done; done); done; "
    "if [ $l = lib/modules ]; then depmod -b \"$s\" \"$k\"; else depmod -b \"$s/usr\" \"$k\"; fi; "
    "cp \"$s/$l/$k\"/modules.* \"$t/$l/$k/\"; rm -rf \"$s\"";

static int modules_initrd(struct bc_run *r, const char *flavour, const char *name)
{
	const char *sign = r->d->host->stage_dir(r->ctx, "sign");
	char *scratch = str_printf("%s/initrd-scratch", r->out);
	char *tree = str_printf("%s/initrd-%s", r->out, flavour);
	char *vendor = str_printf("%s/cd/install.amd/%sinitrd.gz", r->asm_dir,
	                          strcmp(flavour, "text") ? "gtk/" : "");
	char *mods = str_printf("%s/%s/modules", sign, r->kernel);
	char *cpio = str_printf("%s/overlay/install.amd/%s", r->out, name);
	char *script = str_printf(initrd_script, scratch, tree, r->kernel, vendor, mods);
	const char *argv[] = {"sh", "-c", script, NULL};
	int32_t st = 0;
	int ret = r->im->run(r->ctx, argv, &st);

	if (ret == 0 && st != 0)
		ret = r->d->host->error(r->ctx, -KLD_E_BUILD,
		                        "cannot index the modules of %s for the installer %s", mods,
		                        vendor);
	if (ret == 0)
		ret = mkdir_parents(cpio) < 0 ? -errno : 0;
	if (ret == 0)
		ret = r->im->cpio_write(r->ctx, tree, cpio, r->epoch);
	if (ret == 0) {
		const char *rm[] = {"rm", "-rf", tree, NULL};

		ret = r->im->run(r->ctx, rm, &st);
	}
	free(scratch), free(tree), free(vendor), free(mods), free(cpio), free(script);
	return ret;
}

/* ---- the ESP and the ISO ---- */

static int esp(struct bc_run *r)
{
	char *tree = str_printf("%s/esp-tree", r->out);
	char *img = str_printf("%s/overlay/boot/grub/efi.img", r->out);
	static const char *const files[] = {"bootx64.efi", "grubx64.efi", "mmx64.efi"};
	int ret = 0;

	for (int i = 0; ret == 0 && i < 3; i++) {
		char *from = str_printf("%s/cd/EFI/boot/%s", r->asm_dir, files[i]);
		char *to = str_printf("%s/EFI/boot/%s", tree, files[i]);

		ret = copy_file(from, to, 0644);
		if (ret < 0)
			ret = r->d->host->error(r->ctx, ret, "cannot copy %s", from);
		free(from);
		free(to);
	}
	if (ret == 0)
		ret = mkdir_parents(img) < 0 ? -errno : 0;
	if (ret == 0)
		ret = r->im->fat_write(r->ctx, tree, img, r->epoch);
	free(tree);
	free(img);
	return ret;
}

static int iso(struct bc_run *r, char **name)
{
	char *cd = str_printf("%s/cd", r->asm_dir), *ov = str_printf("%s/overlay", r->out);
	char *mbr = str_printf("%s/isohdpfx.bin", r->asm_dir);
	char *vol = str_printf("Debian %s %s kldload", r->version, r->arch);
	const char *trees[] = {cd, ov};
	char *out;
	int ret;

	*name = str_printf("%s", opt(r, "iso_name", ""));
	if (!**name) {
		free(*name);
		*name = str_printf("debian-%s-%s-kldload.iso", r->version, r->arch);
	}
	out = str_printf("%s/%s", r->out, *name);
	{
		struct kld_iso_spec s = {.size = sizeof(s),
		                         .flags = KLD_ISO_HYBRID | KLD_ISO_MD5SUM,
		                         .trees = trees,
		                         .n_trees = 2,
		                         .volume_id = vol,
		                         .bios_image = "isolinux/isolinux.bin",
		                         .bios_catalog = "isolinux/boot.cat",
		                         .isohybrid_mbr = mbr,
		                         .efi_image = "boot/grub/efi.img",
		                         .output = out,
		                         .epoch = r->epoch};
		ret = r->im->iso_write(r->ctx, &s);
	}
	free(cd), free(ov), free(mbr), free(vol), free(out);
	return ret;
}

/* ---- inputs ---- */

static int load_inputs(struct bc_run *r)
{
	char *path, *list, line[512];
	FILE *f;

	r->asm_dir = r->d->host->stage_dir(r->ctx, "assemble");
	if (!r->asm_dir)
		return r->d->host->error(r->ctx, -ENOENT, "no assemble output: run assemble first");
	path = str_printf("%s/info", r->asm_dir);
	r->info = read_text(path);
	free(path);
	if (!r->info)
		return r->d->host->error(r->ctx, -ENOENT, "assemble's info file is missing");
	r->codename = info_get(r->info, "codename");
	r->version = info_get(r->info, "version");
	r->arch = info_get(r->info, "arch");
	r->kernel = info_get(r->info, "kernel");
	path = info_get(r->info, "epoch");
	r->epoch = path ? atoll(path) : 0;
	free(path);
	list = str_printf("%s/module-debs", r->asm_dir);
	f = fopen(list, "re");
	r->modpkgs = xstrdup_or_null("");
	while (f && fgets(line, sizeof(line), f)) {
		char krel[256], file[256], *t;

		if (sscanf(line, "%255s %255s", krel, file) != 2)
			continue;
		file[strcspn(file, "_")] = '\0';
		t = str_printf("%s%s%s", r->modpkgs, *r->modpkgs ? " " : "", file);
		free(r->modpkgs);
		r->modpkgs = t;
	}
	if (f)
		fclose(f);
	free(list);
	return 0;
}

/* Read a hash file: one line "$6$...". */
static char *read_hash(const char *path)
{
	char *text = read_text(path);

	if (text)
		str_trim(text);
	if (text && strncmp(text, "$6$", 3) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * The enrolment password: a new one, printed once at the end; or, on a rebuild in the same work
 * directory, the hash of the one printed before (so that a rebuild gives the same image); or
 * the hash given with debian.mok_hash. debian.new_mok_password=1 forces a new one.
 */
static int mok_password(struct bc_run *r)
{
	const char *given = opt(r, "mok_hash", NULL);
	const char *prev = r->d->host->stage_dir(r->ctx, "boot-config");
	char *path = prev ? str_printf("%s/overlay/kldload/mok-password.sha512", prev) : NULL;

	if (given) {
		r->hash = read_hash(given);
		free(path);
		return r->hash
		           ? 0
		           : r->d->host->error(r->ctx, -KLD_E_CONFIG,
		                               "%s holds no SHA-512 crypt hash ($6$...)", given);
	}
	if (path && !atoi(opt(r, "new_mok_password", "0")))
		r->hash = read_hash(path);
	free(path);
	if (r->hash) {
		r->d->host->log(
		    r->ctx, KLD_LOG_WARN,
		    "the MOK enrolment password is the one printed by the earlier build in "
		    "this work directory (-O debian.new_mok_password=1 makes a new one)");
		return 0;
	}
	return r->im->password_new(r->ctx, &r->password, &r->hash);
}

/* Append `word` to the space-separated list *list (NULL-safe, no duplicates). */
static void list_add(char **list, const char *word)
{
	size_t n = strlen(word);
	char *t;

	for (const char *p = *list; p && (p = strstr(p, word)); p += n)
		if ((p == *list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return;
	t = str_printf("%s%s%s", *list ? *list : "", *list && **list ? " " : "", word);
	free(*list);
	*list = t;
}

/*
 * What the recipes declared for this kernel: their runtime packages (KLD_NEED_RUNTIME) for the
 * preseed, and their kernel command-line options (KLD_NEED_CMDLINE), which join debian.cmdline
 * on the installer's and the installed system's command line.
 */
static void recipe_needs(struct bc_run *r)
{
	const struct kld_need *const *needs = r->d->host->module_needs(r->ctx, r->kernel);
	char *cmdline = xstrdup_or_null(opt(r, "cmdline", ""));

	r->runtime = xstrdup_or_null("");
	for (size_t i = 0; needs && needs[i]; i++) {
		char *pkg = xstrdup_or_null(needs[i]->package);

		if (needs[i]->kind == KLD_NEED_RUNTIME) {
			pkg[strcspn(pkg, " (|")] = '\0';
			list_add(&r->runtime, pkg);
		} else if (needs[i]->kind == KLD_NEED_CMDLINE) {
			list_add(&cmdline, str_trim(pkg));
		}
		free(pkg);
	}
	r->cmdline = str_printf("%s%s", *cmdline ? " " : "", cmdline);
	free(cmdline);
}

int deb_boot_config(struct kld_ctx *ctx, void *state)
{
	struct deb *d = state;
	struct bc_run r = {.d = d, .ctx = ctx, .out = d->host->stage_dir(ctx, NULL)};
	struct entry e[6];
	char *name = NULL;
	int ret;

	r.im = d->host->service(ctx, KLD_IMAGE_SERVICE);
	if (!r.im || !KLD_TABLE_HAS(r.im, struct kld_image, run))
		return d->host->error(ctx, -KLD_E_UNSUPPORTED, "this kldload lacks %s",
		                      KLD_IMAGE_SERVICE);
	ret = load_inputs(&r);
	if (ret == 0) {
		recipe_needs(&r);
		entries(&r, e);
		ret = mok_password(&r);
	}
	if (ret == 0)
		ret = isolinux_cfg(&r, e, r.cmdline);
	if (ret == 0)
		ret = grub_cfg(&r, e, r.cmdline);
	if (ret == 0)
		ret = preseed(&r);
	if (ret == 0)
		ret = modules_initrd(&r, "text", "kldload.gz");
	if (ret == 0)
		ret = modules_initrd(&r, "gtk", "kldload-gtk.gz");
	if (ret == 0)
		ret = esp(&r);
	if (ret == 0)
		ret = iso(&r, &name);
	if (ret == 0)
		ret = d->host->publish(ctx, "image", name);
	if (ret == 0 && r.password)
		d->host->log(ctx, KLD_LOG_WARN,
		             "MOK enrolment password (shown once, not stored): %s -- at the first "
		             "boot, MokManager asks for it: Enroll MOK, Continue, Yes, type it",
		             r.password);
	free(name);
	bc_clear(&r);
	return ret;
}
