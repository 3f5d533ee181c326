/* SPDX-License-Identifier: MIT */
/* Everything a kldload plugin includes. */
#ifndef KLDLOAD_KLDLOAD_H
#define KLDLOAD_KLDLOAD_H

#include <stddef.h> /* NULL, size_t: what every plugin's code uses */
#include <kldload/plugin.h>
#include <kldload/host.h>
#include <kldload/distro.h>
#include <kldload/module.h>

#endif /* KLDLOAD_KLDLOAD_H */
