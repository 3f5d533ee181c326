/* SPDX-License-Identifier: MIT */
/*
 * Bootable images: the FAT image of an EFI system partition (mtools, dosfstools) and the hybrid
 * ISO (the xorriso engine, run as `xorriso -as mkisofs`: libarchive's ISO writer has one El
 * Torito entry and no MBR/GPT). Both honour SOURCE_DATE_EPOCH (the spec's epoch otherwise):
 * volume dates, file dates, volume serials and the GPT identifiers derive from it, so the same
 * inputs give byte-identical images.
 */
#ifndef KLDLOAD_CORE_ISO_H
#define KLDLOAD_CORE_ISO_H

#include <stdint.h>
#include <kldload/image.h>

int fat_write_tree(const char *dir, const char *output, int64_t epoch);
int iso_write(const struct kld_iso_spec *spec);

#endif
