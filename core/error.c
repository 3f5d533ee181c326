/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "common.h"

static _Thread_local char last_error[1024];

int err_setv(int code, const char *fmt, va_list ap)
{
	/* Through a copy: callers often wrap the message they had, err_set(r, "...: %s", err_msg()). */
	char msg[sizeof(last_error)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	memcpy(last_error, msg, sizeof(msg));
	return code;
}

int err_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(code, fmt, ap);
	va_end(ap);
	return code;
}

const char *err_msg(void)
{
	return last_error;
}

void err_clear(void)
{
	last_error[0] = '\0';
}

const char *err_str(int code)
{
	static const char *const words[] = {
	    [KLD_E_NOTIMPL - KLD_E_BASE] = "not implemented",
	    [KLD_E_VERIFY - KLD_E_BASE] = "verification failed",
	    [KLD_E_UNSAT - KLD_E_BASE] = "cannot be satisfied",
	    [KLD_E_CONFIG - KLD_E_BASE] = "configuration error",
	    [KLD_E_BUILD - KLD_E_BASE] = "build failed",
	    [KLD_E_CANCELLED - KLD_E_BASE] = "interrupted",
	    [KLD_E_UNSUPPORTED - KLD_E_BASE] = "not supported",
	};
	int c = code < 0 ? -code : code;

	if (c >= KLD_E_BASE && c - KLD_E_BASE < (int)ARRAY_SIZE(words) && words[c - KLD_E_BASE])
		return words[c - KLD_E_BASE];
	if (c >= KLD_E_BASE)
		return "unknown kldload error";
	return strerror(c);
}
