/* SPDX-License-Identifier: MIT */
/*
 * kldload service "kld.image/1": what a distro driver needs to assemble an installer image:
 * the packages of a lock, native packages (.deb), an offline repository with a signed index,
 * archives (extract, cpio), a FAT image for the EFI system partition, and the hybrid ISO.
 *
 *   const struct kld_image *im = host->service(ctx, KLD_IMAGE_SERVICE);
 *
 * Every function takes the calling plugin's ctx first, returns 0 or a negative errno / -KLD_E_*
 * and attaches a one-line message naming the offending file to ctx. Output files are written
 * under a temporary name and renamed, so nothing is left at an output path on failure. Every
 * timestamp written comes from SOURCE_DATE_EPOCH when set (else the lock's release date passed
 * in `epoch`), so that two builds from the same inputs are byte-identical. Single-threaded;
 * strings passed in are only read during the call.
 */
#ifndef KLDLOAD_IMAGE_H
#define KLDLOAD_IMAGE_H

#include <stdint.h>
#include <kldload/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KLD_IMAGE_SERVICE "kld.image/1"

/* A package of a lock file, present and verified in the download cache. */
struct kld_image_pkg {
	uint32_t size; /* sizeof(struct kld_image_pkg) in the host */
	uint32_t reserved;
	const char *name, *version, *arch;
	const char *file; /* the .deb in the cache (absolute path) */
	const char *tags; /* comma-separated lock tags */
};

/* One file of a package to write: `source` on the host becomes `path` in the package. */
struct kld_deb_file {
	uint32_t size; /* sizeof(struct kld_deb_file) as the plugin was built */
	uint32_t mode; /* permission bits, e.g. 0644 */
	const char *source;
	const char
	    *path; /* absolute in the package, e.g. "/lib/modules/6.1.0-50-amd64/updates/x.ko" */
};

struct kld_deb_spec {
	uint32_t size; /* sizeof(struct kld_deb_spec) as the plugin was built */
	uint32_t n_files;
	/* The control file's text without the Installed-Size line (computed): Package, Version,
	 * Architecture, Maintainer, Depends, ..., Description. */
	const char *control;
	/* n_files records of files[0].size bytes each (every record has the same size). */
	const struct kld_deb_file *files;
	/* Maintainer scripts (text, or NULL): written with mode 0755 into control.tar. */
	const char *postinst, *postrm;
	int64_t epoch; /* timestamp of every member (SOURCE_DATE_EPOCH wins when set) */
	/* The Debian changelog's text, or NULL: written gzip-compressed (no timestamp) to
	 * /usr/share/doc/<Package>/changelog.gz, or changelog.Debian.gz when the version has a
	 * Debian revision. */
	const char *changelog;
};

struct kld_repo_spec {
	uint32_t size; /* sizeof(struct kld_repo_spec) as the plugin was built */
	uint32_t n_debs;
	const char *dir;          /* the repository's top (pool/ and dists/ are made below it) */
	const char *codename;     /* dists/<codename>; also the Codename field */
	const char *suite;        /* Suite field, e.g. "oldstable" (NULL: the codename) */
	const char *version;      /* Version field, or NULL */
	const char *origin;       /* Origin and Label */
	const char *arch;         /* e.g. "amd64" */
	const char *const *debs;  /* .deb files, copied into pool/main/<p>/<source>/ */
	const char *const *udebs; /* .udeb files (may be NULL), in main/debian-installer */
	uint32_t n_udebs;
	uint32_t reserved;
	/* Sign Release (InRelease, Release.gpg) with this OpenPGP secret key file (made by
	 * repo_key()), or NULL for an unsigned repository. */
	const char *key_dir;
	int64_t epoch; /* Date field */
};

/* iso_write() flags. */
#define KLD_ISO_HYBRID 1u /* MBR + GPT so that the image also boots when written to a disk */
#define KLD_ISO_MD5SUM 2u /* write md5sum.txt at the root (every file, as Debian's media do) */

struct kld_iso_spec {
	uint32_t size; /* sizeof(struct kld_iso_spec) as the plugin was built */
	uint32_t flags;
	const char *const *trees; /* directories merged at the ISO's root, later ones win */
	uint32_t n_trees;
	uint32_t reserved;
	const char *volume_id;  /* at most 32 characters */
	const char *bios_image; /* path in the ISO of isolinux.bin, or NULL */
	const char
	    *bios_catalog; /* path in the ISO of the boot catalog, e.g. "isolinux/boot.cat" */
	const char *isohybrid_mbr; /* host path of isohdpfx.bin (syslinux), or NULL */
	const char *efi_image;     /* path in the ISO of the FAT ESP image, or NULL */
	const char *output;        /* the .iso to write */
	int64_t epoch;
};

struct kld_image {
	uint32_t size; /* sizeof(struct kld_image) in the host */
	uint32_t reserved;

	/*
	 * The packages of the lock file `lock_path` that carry `tag` (NULL: all), each made
	 * present and verified in the cache first. *pkgs is a host-owned array of *n pointers
	 * (pointers, so that the records may grow in later minors), valid until
	 * lock_packages_free().
	 */
	int (*lock_packages)(struct kld_ctx *ctx, const char *lock_path, const char *tag,
	                     struct kld_image_pkg ***pkgs, uint32_t *n);
	void (*lock_packages_free)(struct kld_image_pkg **pkgs, uint32_t n);

	/* Extract the data member of a .deb/.udeb into `dest` (created), securely. */
	int (*deb_extract)(struct kld_ctx *ctx, const char *deb, const char *dest);

	/* The control file of a .deb as text; caller frees with host->free(). */
	int (*deb_control)(struct kld_ctx *ctx, const char *deb, char **text);

	/* Write a binary package to `output` (ar: debian-binary, control.tar.xz, data.tar.xz). */
	int (*deb_write)(struct kld_ctx *ctx, const struct kld_deb_spec *spec, const char *output);

	/*
	 * The repository's OpenPGP key in `dir` (made once with gpg when missing: ed25519, no
	 * passphrase, user id "kldload repository key <kldload@localhost>"). Writes nothing else.
	 * Files: dir/secret.asc (0600), dir/public.asc, dir/public.gpg (binary, for apt's
	 * Signed-By and for gpgv/sqv).
	 */
	int (*repo_key)(struct kld_ctx *ctx, const char *dir);

	/* Lay out and index a repository; see struct kld_repo_spec. */
	int (*repo_write)(struct kld_ctx *ctx, const struct kld_repo_spec *spec);

	/*
	 * Write the tree `dir` as a newc cpio archive (sorted, owner root, mtime epoch),
	 * gzip-compressed, to `output`: the form an initramfs appended to another takes.
	 */
	int (*cpio_write)(struct kld_ctx *ctx, const char *dir, const char *output, int64_t epoch);

	/* A FAT image of the tree `dir` (an EFI system partition), as small as fits. */
	int (*fat_write)(struct kld_ctx *ctx, const char *dir, const char *output, int64_t epoch);

	/* Write an ISO 9660 image (Rock Ridge, Joliet) with El Torito entries; see the spec. */
	int (*iso_write)(struct kld_ctx *ctx, const struct kld_iso_spec *spec);

	/*
	 * A new random one-time password (16 characters from an unambiguous alphabet) and its
	 * SHA-512 crypt hash, as `mokutil --generate-hash` writes it for `mokutil --hash-file`.
	 * Both caller-freed with host->free().
	 */
	int (*password_new)(struct kld_ctx *ctx, char **password, char **hash);

	/* Run a program (argv[0] looked up in PATH) and wait; output goes to the log. *status as
	 * the shell reports it (128 + signal). */
	int (*run)(struct kld_ctx *ctx, const char *const *argv, int32_t *status);
};

#ifdef __cplusplus
}
#endif

#endif /* KLDLOAD_IMAGE_H */
