/* SPDX-License-Identifier: MIT */
/* The fetch and solve services lent to plugins (kldload/fetch.h, kldload/solve.h). */
#ifndef KLDLOAD_CORE_FETCH_SERVICE_H
#define KLDLOAD_CORE_FETCH_SERVICE_H

#include <kldload/fetch.h>
#include <kldload/solve.h>

#include "download.h"
#include "plan.h"

extern const struct kld_fetch fetch_service;
extern const struct kld_solve solve_service;

/* Download options from the plan: "jobs", "fetch_timeout" (s), "fetch_retries". */
void fetch_dl_opts(const struct plan *plan, struct dl_opts *opts);

/* Make every package of a lock file (tagged `tag`, or all) present and verified in the cache. */
int fetch_lock_file(const struct plan *plan, const char *lock_path, const char *tag);

#endif
