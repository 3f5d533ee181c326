/* SPDX-License-Identifier: MIT */
/*
 * Where the Debian archive is: the plan ("mirror", "keyring"), this plugin's options
 * ("security_mirror", "components", "suites", "apt_dir"), else the host's APT configuration
 * (deb822 *.sources files and one-line *.list files). No mirror is written in this source.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debian.h"

void apt_entry_clear(struct apt_entry *e)
{
	free(e->uri);
	free(e->signed_by);
	e->uri = e->signed_by = NULL;
}

static int suite_is_security(const char *suite)
{
	size_t n = strlen(suite);

	return n > 9 && !strcmp(suite + n - 9, "-security");
}

/* Offer one source entry (type, first URI, its suites, signed-by) to the two slots. */
static void offer(const char *types, const char *uris, const char *suites, const char *signed_by,
                  struct apt_entry *main_archive, struct apt_entry *security)
{
	char uri[1024] = "";
	int has_main = 0, has_security = 0;

	if (!types || !word_in(types, "deb") || !uris || !suites)
		return;
	sscanf(uris, "%1023s", uri);
	if (!uri[0])
		return;
	for (const char *p = suites; *p;) {
		char s[256] = "";
		size_t len = strcspn(p, " \t");

		snprintf(s, sizeof(s), "%.*s", (int)len, p);
		if (s[0])
			*(suite_is_security(s) ? &has_security : &has_main) = 1;
		p += len;
		p += strspn(p, " \t");
	}
	/* an embedded key block is not a path: the default keyring is used then */
	if (signed_by && (signed_by[0] != '/' || strchr(signed_by, '\n')))
		signed_by = NULL;
	if (has_main && !main_archive->uri) {
		main_archive->uri = xstrdup_or_null(uri);
		main_archive->signed_by = xstrdup_or_null(signed_by);
	}
	if (has_security && !security->uri) {
		security->uri = xstrdup_or_null(uri);
		security->signed_by = xstrdup_or_null(signed_by);
	}
}

struct stanza {
	char *types, *uris, *suites, *signed_by, *enabled;
};

static void stanza_clear(struct stanza *s)
{
	free(s->types);
	free(s->uris);
	free(s->suites);
	free(s->signed_by);
	free(s->enabled);
	*s = (struct stanza){0};
}

static void stanza_set(struct stanza *s, char *line)
{
	char *colon = strchr(line, ':');
	char **slot = NULL;

	if (!colon)
		return;
	*colon = '\0';
	if (!strcasecmp(line, "Types"))
		slot = &s->types;
	else if (!strcasecmp(line, "URIs"))
		slot = &s->uris;
	else if (!strcasecmp(line, "Suites"))
		slot = &s->suites;
	else if (!strcasecmp(line, "Signed-By"))
		slot = &s->signed_by;
	else if (!strcasecmp(line, "Enabled"))
		slot = &s->enabled;
	if (!slot)
		return;
	free(*slot);
	*slot = xstrdup_or_null(str_trim(colon + 1));
}

static void stanza_offer(struct stanza *s, struct apt_entry *m, struct apt_entry *sec)
{
	if (!s->enabled || strcasecmp(s->enabled, "no") != 0)
		offer(s->types, s->uris, s->suites, s->signed_by, m, sec);
	stanza_clear(s);
}

static void scan_deb822(char *text, struct apt_entry *m, struct apt_entry *sec)
{
	struct stanza s = {0};
	char *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *t = l;

		if (t[0] == '#')
			continue;
		if (t[0] == ' ' || t[0] == '\t') {
			if (!*str_trim(t))
				stanza_offer(&s, m, sec); /* a blank line ends a stanza */
			continue;                         /* continuation of a multi-line field */
		}
		stanza_set(&s, t);
		/* strtok_r swallows empty lines: detect the paragraph break by peeking */
		if (save && *save == '\n')
			stanza_offer(&s, m, sec);
	}
	stanza_offer(&s, m, sec);
}

static void scan_one_line(char *text, struct apt_entry *m, struct apt_entry *sec)
{
	char *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *p = str_trim(l), *opts = NULL, *uri, *suite, *rest = NULL;
		char *signed_by = NULL;

		if (strncmp(p, "deb ", 4) != 0)
			continue;
		p += 4;
		while (*p == ' ')
			p++;
		if (*p == '[') {
			opts = p + 1;
			p = strchr(p, ']');
			if (!p)
				continue;
			*p++ = '\0';
			signed_by = strstr(opts, "signed-by=");
			if (signed_by) {
				signed_by += 10;
				signed_by[strcspn(signed_by, " ]")] = '\0';
			}
		}
		uri = strtok_r(p, " \t", &rest);
		suite = uri ? strtok_r(NULL, " \t", &rest) : NULL;
		if (uri && suite)
			offer("deb", uri, suite, signed_by, m, sec);
	}
}

static void scan_file(const char *path, int deb822, struct apt_entry *m, struct apt_entry *sec)
{
	char *text = read_text(path);

	if (!text)
		return;
	if (deb822)
		scan_deb822(text, m, sec);
	else
		scan_one_line(text, m, sec);
	free(text);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int apt_sources_scan(const char *dir, const char *list_file, struct apt_entry *m,
                     struct apt_entry *sec)
{
	DIR *dh = opendir(dir);
	char *names[256];
	size_t n = 0;
	struct dirent *de;

	if (list_file)
		scan_file(list_file, 0, m, sec);
	while (dh && (de = readdir(dh)) && n < 256)
		if (ends_with(de->d_name, ".sources") || ends_with(de->d_name, ".list"))
			names[n++] = xstrdup_or_null(de->d_name);
	if (dh)
		closedir(dh);
	qsort(names, n, sizeof(char *), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char *path = str_printf("%s/%s", dir, names[i]);

		scan_file(path, ends_with(names[i], ".sources"), m, sec);
		free(path);
		free(names[i]);
	}
	return m->uri ? 0 : -ENOENT;
}

const char *deb_setting(struct kld_ctx *ctx, struct deb *d, const char *plan_key,
                        const char *option)
{
	const char *v = plan_key ? d->host->plan(ctx, plan_key) : NULL;

	if ((!v || !*v) && option)
		v = d->host->option(ctx, option);
	return v && *v ? v : NULL;
}

static char *strip_slash(const char *url)
{
	char *s = xstrdup_or_null(url);
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

static const char *or_default(const char *v, const char *def)
{
	return v ? v : def;
}

void deb_source_clear(struct deb_source *s)
{
	free(s->mirror);
	free(s->security_mirror);
	free(s->keyring);
	free(s->release);
	free(s->arch);
	free(s->components);
	free(s->extra);
	*s = (struct deb_source){0};
}

int deb_source_load(struct kld_ctx *ctx, struct deb *d, struct deb_source *s)
{
	const struct kld_host *h = d->host;
	const char *apt_dir = deb_setting(ctx, d, NULL, "apt_dir");
	struct apt_entry m = {0}, sec = {0};
	const char *v;
	char *list = str_printf("%s/sources.list", apt_dir ? apt_dir : "/etc/apt");
	char *dir = str_printf("%s/sources.list.d", apt_dir ? apt_dir : "/etc/apt");

	apt_sources_scan(dir, list, &m, &sec);
	free(list);
	free(dir);
	v = deb_setting(ctx, d, "mirror", "mirror");
	s->mirror = strip_slash(v ? v : m.uri ? m.uri : "");
	v = deb_setting(ctx, d, NULL, "security_mirror");
	s->security_mirror = v ? strip_slash(v)
	                     : sec.uri && !deb_setting(ctx, d, "mirror", NULL)
	                         ? strip_slash(sec.uri)
	                         : NULL;
	v = deb_setting(ctx, d, "keyring", "keyring");
	s->keyring = xstrdup_or_null(v ? v : m.signed_by ? m.signed_by : DEBIAN_DEFAULT_KEYRING);
	s->release = xstrdup_or_null(or_default(deb_setting(ctx, d, "release", NULL), "stable"));
	s->arch = xstrdup_or_null(or_default(deb_setting(ctx, d, "arch", NULL), "amd64"));
	s->components =
	    xstrdup_or_null(or_default(deb_setting(ctx, d, NULL, "components"), DEBIAN_COMPONENTS));
	s->extra = xstrdup_or_null(or_default(deb_setting(ctx, d, NULL, "suites"), ""));
	apt_entry_clear(&m);
	apt_entry_clear(&sec);
	if (!s->mirror[0])
		return h->error(ctx, -KLD_E_CONFIG,
		                "no Debian mirror: none in the APT sources; use --mirror URL");
	return 0;
}
