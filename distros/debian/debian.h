/* SPDX-License-Identifier: MIT */
/* The Debian distro driver's internals (not an interface: only this plugin includes it). */
#ifndef KLDLOAD_DEBIAN_H
#define KLDLOAD_DEBIAN_H

#include <stddef.h>
#include <stdio.h>
#include <kldload/kldload.h>
#include <kldload/fetch.h>
#include <kldload/solve.h>

#define DEBIAN_DEFAULT_KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"
#define DEBIAN_COMPONENTS      "main contrib non-free non-free-firmware"
#define REPOS_FILE             "repos"

struct deb {
	const struct kld_host *host;
	const struct kld_fetch *fetch;
	const struct kld_solve *solve;
	FILE *request; /* during resolve: <resolve>/request, what each solve was asked */
};

/* Where packages come from, after the plan, the options and the APT configuration. */
struct deb_source {
	char *mirror;          /* base URL of the archive (dists/ and pool/ below it) */
	char *security_mirror; /* base URL of the security archive, or NULL */
	char *keyring;         /* colon-separated keyring files */
	char *release;         /* suite or codename asked for, e.g. "stable" */
	char *arch;
	char *components; /* space-separated */
	char *extra;      /* comma-separated extra suites: updates, security, backports */
};

int deb_source_load(struct kld_ctx *ctx, struct deb *d, struct deb_source *src);
void deb_source_clear(struct deb_source *src);

/* A value from the plan, else this plugin's option, else NULL. */
const char *deb_setting(struct kld_ctx *ctx, struct deb *d, const char *plan_key,
                        const char *option);

/* The APT configuration: the first deb entry for the main archive and for security. */
struct apt_entry {
	char *uri, *signed_by;
};
int apt_sources_scan(const char *dir, const char *list_file, struct apt_entry *main_archive,
                     struct apt_entry *security);
void apt_entry_clear(struct apt_entry *e);

int deb_resolve(struct kld_ctx *ctx, void *state);

/* Small helpers (util.c). */
char *xstrdup_or_null(const char *s);
char *str_printf(const char *fmt, ...) KLD_PRINTF(1, 2);
char *str_trim(char *s);
/* The value of field `name` in control text (a stanza), continuation lines joined; malloc'd. */
char *deb_field(const char *text, const char *name);
int mkdir_parents(const char *path);             /* creates every directory above `path` */
int word_in(const char *list, const char *word); /* list: separated by spaces or commas */
/* Is `comp` among a Release's Components (where "updates/main" counts as "main")? */
int component_listed(const char *list, const char *comp);
char *read_text(const char *path); /* whole file, malloc'd, or NULL */

#endif
