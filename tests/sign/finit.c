/* SPDX-License-Identifier: MIT */
/*
 * finit: load a kernel module file the way kmod does for compressed modules: finit_module()
 * with MODULE_INIT_COMPRESSED_FILE, so that the kernel itself decompresses it
 * (CONFIG_MODULE_DECOMPRESS) and then checks its signature. Built static for a busybox
 * initramfs. Prints "finit: FILE: OK" or "finit: FILE: <strerror>" and exits 0 or 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

int main(int argc, char **argv)
{
	int flags = argc > 2 && strcmp(argv[2], "plain") == 0 ? 0 : MODULE_INIT_COMPRESSED_FILE;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: finit FILE [plain]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || syscall(SYS_finit_module, fd, "", flags) != 0) {
		printf("finit: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("finit: %s: OK\n", argv[1]);
	return 0;
}
