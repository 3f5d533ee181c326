/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "debian.h"

char *xstrdup_or_null(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		abort();
	return d;
}

char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	return s;
}

char *str_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

char *deb_field(const char *text, const char *name)
{
	size_t n = strlen(name);
	char *v = NULL, *t;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t len = strcspn(l, "\n");

		if (v && (*l == ' ' || *l == '\t')) {
			t = str_printf("%s %.*s", v, (int)len, l);
			free(v);
			v = t;
		} else if (v) {
			break;
		} else if (!strncmp(l, name, n) && l[n] == ':') {
			v = str_printf("%.*s", (int)(len - n - 1), l + n + 1);
		}
	}
	if (v) {
		t = str_printf("%s", str_trim(v));
		free(v);
		v = t;
	}
	return v;
}

int mkdir_parents(const char *path)
{
	char *p = xstrdup_or_null(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			int e = -errno;

			free(p);
			return e;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

int word_in(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, " ,\t");

		if (len == n && !strncmp(p, word, n))
			return 1;
		p += len;
		p += strspn(p, " ,\t");
	}
	return 0;
}

char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

int component_listed(const char *list, const char *comp)
{
	size_t n = strlen(comp);

	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, " ");
		const char *w = p;

		/* the security archive lists "updates/main" for the files under main/ */
		for (const char *s = p; s < p + len; s++)
			if (*s == '/')
				w = s + 1;
		if ((size_t)(p + len - w) == n && !strncmp(w, comp, n))
			return 1;
		p += len;
		p += strspn(p, " ");
	}
	return 0;
}
