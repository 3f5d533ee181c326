/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "plan.h"
#include "util.h"

void plan_release(struct plan *plan)
{
	for (size_t i = 0; i < plan->n_items; i++) {
		free(plan->items[i].key);
		free(plan->items[i].value);
		free(plan->items[i].origin);
	}
	free(plan->items);
	plan->items = NULL;
	plan->n_items = 0;
}

const struct kv *plan_find(const struct plan *plan, const char *key)
{
	for (size_t i = 0; i < plan->n_items; i++)
		if (strcmp(plan->items[i].key, key) == 0)
			return &plan->items[i];
	return NULL;
}

const char *plan_get(const struct plan *plan, const char *key)
{
	const struct kv *kv = plan_find(plan, key);

	return kv ? kv->value : NULL;
}

void plan_set(struct plan *plan, const char *key, const char *value, const char *origin)
{
	struct kv *kv = (struct kv *)plan_find(plan, key);
	/* Copied first: value or origin may point into the entry being replaced. */
	char *new_value = xstrdup(value), *new_origin = xstrdup(origin ? origin : "");

	if (!kv) {
		struct kv *items = realloc(plan->items, (plan->n_items + 1) * sizeof(*items));
		if (!items)
			abort();
		plan->items = items;
		kv = &plan->items[plan->n_items++];
		kv->key = xstrdup(key);
	} else {
		free(kv->value);
		free(kv->origin);
	}
	kv->value = new_value;
	kv->origin = new_origin;
}

char **plan_modules(const struct plan *plan)
{
	const char *list = plan_get(plan, "modules");
	_cleanup_free_ char *copy = xstrdup(list ? list : "");
	char **v = xcalloc(strlen(copy) / 2 + 2, sizeof(char *));
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		int dup = 0;
		for (size_t i = 0; i < n; i++)
			dup |= strcmp(v[i], t) == 0;
		if (!dup)
			v[n++] = xstrdup(t);
	}
	return v;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

char *plan_format(const struct plan *plan)
{
	struct kv *sorted = xcalloc(plan->n_items, sizeof(*sorted));
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		abort();
	memcpy(sorted, plan->items, plan->n_items * sizeof(*sorted));
	qsort(sorted, plan->n_items, sizeof(*sorted), kv_cmp);
	for (size_t i = 0; i < plan->n_items; i++)
		fprintf(f, "%s=%s\n", sorted[i].key, sorted[i].value);
	fclose(f);
	free(sorted);
	return out;
}
