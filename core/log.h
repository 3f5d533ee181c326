/* SPDX-License-Identifier: MIT */
/*
 * Logging: stderr only, quiet by default (errors and warnings), one category per stage and per
 * plugin. Verbosity comes from -q/-v/-vv and KLDLOAD_LOG ("debug", or "fetch=trace,zfs=debug").
 */
#ifndef KLDLOAD_CORE_LOG_H
#define KLDLOAD_CORE_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <kldload/host.h> /* KLD_LOG_* levels */
#include "common.h"

/* verbosity: -1 quiet (errors only), 0 default, 1 info, 2 debug, 3 trace. */
void log_setup(int verbosity, const char *spec /* KLDLOAD_LOG or NULL */);
int log_enabled(const char *category, uint32_t level);
void log_msg(const char *category, uint32_t level, const char *fmt, ...) PRINTF_LIKE(3, 4);
void log_msgv(const char *category, uint32_t level, const char *fmt, va_list ap);

#define log_error(cat, ...) log_msg(cat, KLD_LOG_ERROR, __VA_ARGS__)
#define log_warn(cat, ...)  log_msg(cat, KLD_LOG_WARN, __VA_ARGS__)
#define log_info(cat, ...)  log_msg(cat, KLD_LOG_INFO, __VA_ARGS__)
#define log_debug(cat, ...) log_msg(cat, KLD_LOG_DEBUG, __VA_ARGS__)

/*
 * A progress line on stderr when it is a terminal and not quiet; `total` 0 means unknown; done ==
 * total ends the line. Rate-limited, safe to call often.
 */
void progress_show(const char *what, uint64_t done, uint64_t total);

#endif
