/* SPDX-License-Identifier: MIT */
/*
 * Optional services the host lends to plugins through kld_host.service(name). Each service is a
 * static, size-prefixed table declared in its own SDK header (kldload/<service>.h) and implemented
 * in the core; register it in the table in service.c.
 */
#ifndef KLDLOAD_CORE_SERVICE_H
#define KLDLOAD_CORE_SERVICE_H

struct service_entry {
	const char *name; /* "kld.<service>/<version>" */
	const void *table;
};

const void *service_lookup(const char *name);

#endif
