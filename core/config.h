/* SPDX-License-Identifier: MIT */
/*
 * Configuration files (libconfig syntax). Top-level settings are the plan keys of core_options[];
 * a group named after a plugin holds that plugin's options:
 *
 *     release = "bookworm";
 *     modules = ["zfs", "wireguard"];
 *     jobs = 4;
 *     debian: { components = "main contrib"; };
 */
#ifndef KLDLOAD_CORE_CONFIG_H
#define KLDLOAD_CORE_CONFIG_H

#include "plan.h"

/*
 * Merge one file into the plan. A missing file is an error only when `required`. A syntax
 * error or a value of the wrong type fails with "FILE:LINE: ..."; an unknown top-level setting
 * warns and is ignored.
 */
int config_load(struct plan *plan, const char *path, int required);

/* The system file ($KLDLOAD_SYSCONFDIR or the build's sysconfdir, + /kldload/kldload.conf). */
char *config_system_path(void);
/* The user's file ($XDG_CONFIG_HOME/kldload/kldload.conf, else ~/.config/...), or NULL. */
char *config_user_path(void);

#endif
