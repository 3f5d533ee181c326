/* SPDX-License-Identifier: MIT */
/* The image service lent to plugins (kldload/image.h). */
#ifndef KLDLOAD_CORE_IMAGE_SERVICE_H
#define KLDLOAD_CORE_IMAGE_SERVICE_H

#include <kldload/image.h>

extern const struct kld_image image_service;

/* A one-time password and its SHA-512 crypt hash (both malloc'd). */
int image_password_new(char **password, char **hash);

#endif
