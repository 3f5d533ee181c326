/* SPDX-License-Identifier: MIT */
/*
 * An offline Debian repository laid out as the vendor's media are: pool/main/<x>/<source>/,
 * dists/<codename>/main/binary-<arch>/Packages{,.gz,.xz},
 * dists/<codename>/main/debian-installer/binary-<arch>/Packages{,.gz,.xz}, and a Release file
 * with MD5Sum and SHA256 entries, signed (InRelease, Release.gpg) by kldload's repository key.
 *
 * The repository key is an OpenPGP key of its own (not the MOK key: a MOK key is an X.509 RSA
 * key for the firmware's db, an apt key is an OpenPGP certificate; apt's verifier, sqv or gpgv,
 * accepts only the latter). It is made once with gpg; the debian driver keeps it in
 * ${XDG_DATA_HOME:-~/.local/share}/kldload/repo-key/ unless debian.repo_key_dir says otherwise.
 */
#ifndef KLDLOAD_CORE_REPO_H
#define KLDLOAD_CORE_REPO_H

#include <stdint.h>
#include <kldload/image.h>

#define REPO_KEY_SECRET     "secret.asc"
#define REPO_KEY_PUBLIC     "public.asc"
#define REPO_KEY_PUBLIC_BIN "public.gpg"

int repo_key_ensure(const char *dir);
int repo_write(const struct kld_repo_spec *spec);

/* Run argv (PATH lookup) with stdout to `out` (NULL: stderr), env additions `env`. */
int image_run(const char *const *argv, const char *const *env, const char *out, int *status);

#endif
