/* SPDX-License-Identifier: MIT */
/* File-system and string helpers of the core. All return 0 or a negative errno, with err_set(). */
#ifndef KLDLOAD_CORE_UTIL_H
#define KLDLOAD_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common.h"

char *xstrdup(const char *s);         /* aborts on out-of-memory */
void *xcalloc(size_t n, size_t size); /* aborts on out-of-memory */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
char *path_join(const char *dir, const char *name); /* malloc'd "dir/name" */

int mkdir_p(const char *path, mode_t mode);
int rm_rf(const char *path);       /* no error when it does not exist */
int path_exists(const char *path); /* 1, 0 */
int is_dir(const char *path);      /* 1, 0 */
/*
 * The names in `dir` but "." and "..", sorted by bytes (the same order on every machine, for
 * reproducible archives): a NULL-terminated malloc'd array, freed with strv_free().
 */
int dir_names_sorted(const char *dir, char ***names);
void strv_free(char **v); /* a NULL-terminated array of strings, and the strings; NULL-safe */

/* Read a whole file (NUL-terminated; *len without the NUL). */
int read_file(const char *path, char **data, size_t *len);
/* Write via "<path>.tmp-<pid>" + fsync + rename; nothing at `path` on failure. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* SHA-256 as 64 lowercase hex digits + NUL. */
#define SHA256_HEX_LEN 65
int sha256_file(const char *path, char out[SHA256_HEX_LEN]);
void sha256_buf(const void *data, size_t len, char out[SHA256_HEX_LEN]);
/* Incremental hashing of a set of inputs (a stage's inputs, a cache key). */
struct hasher;
struct hasher *hasher_new(void);
void hasher_add(struct hasher *h, const void *data, size_t len);
void hasher_add_str(struct hasher *h, const char *s); /* adds s and a terminator */
int hasher_add_file(struct hasher *h, const char *path);
/* Adds every regular file and symlink below `dir`, in sorted order, with relative names. */
int hasher_add_tree(struct hasher *h, const char *dir);
void hasher_final(struct hasher *h, char out[SHA256_HEX_LEN]); /* frees h */

#endif
