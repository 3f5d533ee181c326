/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "build.h"
#include "common.h"
#include "service.h"
#include "fetch_service.h"
#include "image_service.h"

/* One row per service; see service.h. */
static const struct service_entry services[] = {
    {KLD_BUILD_SERVICE, &build_service},
    {KLD_FETCH_SERVICE, &fetch_service},
    {KLD_SOLVE_SERVICE, &solve_service},
    {KLD_IMAGE_SERVICE, &image_service},
    {NULL, NULL},
};

const void *service_lookup(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(services); i++)
		if (services[i].name && strcmp(services[i].name, name) == 0)
			return services[i].table;
	return NULL;
}
