/* SPDX-License-Identifier: MIT */
/* Small things every core file uses: cleanup attributes, array size, error messages. */
#ifndef KLDLOAD_CORE_COMMON_H
#define KLDLOAD_CORE_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <kldload/plugin.h>

#define ARRAY_SIZE(a)     (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define MUST_CHECK        __attribute__((warn_unused_result))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Take ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})

/*
 * The core's last error message (per thread). Functions that fail return a negative errno or
 * -KLD_E_* and, when they have something to say, attach a one-line message naming the offending
 * thing with err_set(). err_set() returns `code` so that `return err_set(-ENOENT, ...)` works.
 */
int err_set(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);
int err_setv(int code, const char *fmt, va_list ap);
const char *err_msg(void); /* "" when none */
void err_clear(void);
/* A human reading of a code: strerror for errno values, words for KLD_E_*. */
const char *err_str(int code);

#endif
