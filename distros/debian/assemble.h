/* SPDX-License-Identifier: MIT */
/*
 * The Debian driver's image stages (internal to this plugin).
 *
 * assemble output (<work>/assemble/):
 *   cd/                          the installer medium's tree, laid out as Debian's own:
 *     .disk/{info,base_installable,base_components}
 *     install.amd/{vmlinuz,initrd.gz}, install.amd/gtk/{vmlinuz,initrd.gz}   from the
 *                                  release's debian-installer-<N>-netboot-<arch> package
 *     isolinux/{isolinux.bin,*.c32}   from the release's isolinux and syslinux-common
 *     EFI/boot/{bootx64.efi,grubx64.efi,mmx64.efi}   shim-signed and grub-efi-amd64-signed
 *     pool/, dists/<codename>/   the offline repository (the lock's image packages and the
 *                                  module packages), Release signed by the repository key
 *     kldload/repo-key.gpg, kldload/signing-cert.der
 *   isohdpfx.bin                 syslinux's hybrid MBR
 *   module-debs                  one line per module package: "<kernel-release> <file name>"
 *   installer.lock               the installer's own packages (a lock file, tag "installer")
 *   info                         "key value" lines for boot-config: codename, version, arch,
 *                                kernel, installer_kernel, epoch, netboot_version
 */
#ifndef KLDLOAD_DEBIAN_ASSEMBLE_H
#define KLDLOAD_DEBIAN_ASSEMBLE_H

#include <stdint.h>
#include <kldload/image.h>

#include "debian.h"

int deb_assemble(struct kld_ctx *ctx, void *state);
int deb_boot_config(struct kld_ctx *ctx, void *state);

/* Shared helpers (assemble.c). */
int64_t lock_epoch(const char *lock_text);                 /* the lock's release date, or 0 */
char *lock_header(const char *lock_text, const char *key); /* "release" -> "bookworm 12.15" */
char *info_get(const char *info_text, const char *key);
int copy_file(const char *from, const char *to, unsigned mode);
int write_text(const char *path, const char *text);

#endif
