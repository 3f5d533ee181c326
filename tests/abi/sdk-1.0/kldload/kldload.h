/* SPDX-License-Identifier: MIT */
/* Everything a kldload plugin includes. */
#ifndef KLDLOAD_KLDLOAD_H
#define KLDLOAD_KLDLOAD_H

#include <kldload/plugin.h>
#include <kldload/host.h>
#include <kldload/distro.h>
#include <kldload/module.h>

#endif /* KLDLOAD_KLDLOAD_H */
