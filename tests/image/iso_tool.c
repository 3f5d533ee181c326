/* SPDX-License-Identifier: MIT */
/*
 * iso-tool: kldload's ISO writer alone, for bench/image.sh and manual checks.
 *   iso-tool OUTPUT MBR TREE...   (BIOS isolinux/isolinux.bin, EFI boot/grub/efi.img, hybrid)
 * Prints the seconds the writer took on stdout.
 */
#include <stdio.h>
#include <time.h>

#include "common.h"
#include "iso.h"

int main(int argc, char **argv)
{
	struct timespec a, b;
	struct kld_iso_spec s = {.size = sizeof(s),
	                         .flags = KLD_ISO_HYBRID | KLD_ISO_MD5SUM,
	                         .volume_id = "kldload",
	                         .bios_image = "isolinux/isolinux.bin",
	                         .bios_catalog = "isolinux/boot.cat",
	                         .efi_image = "boot/grub/efi.img"};
	int r;

	if (argc < 4) {
		fprintf(stderr, "usage: iso-tool OUTPUT MBR TREE...\n");
		return 2;
	}
	s.output = argv[1];
	s.isohybrid_mbr = argv[2];
	s.trees = (const char *const *)argv + 3;
	s.n_trees = (uint32_t)(argc - 3);
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = iso_write(&s);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (r < 0) {
		fprintf(stderr, "iso-tool: %s\n", err_msg());
		return 1;
	}
	printf("%.2f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
