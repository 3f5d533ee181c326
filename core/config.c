/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <libconfig.h>

#include "config.h"
#include "log.h"
#include "util.h"

#ifndef KLDLOAD_SYSCONF_DIR
#define KLDLOAD_SYSCONF_DIR "/etc"
#endif

static const char *const number_keys[] = {"jobs", "fetch_timeout"};
/* Top-level settings that are text: a number or a boolean there is a mistake. */
static const char *const string_keys[] = {
    "plugin", "release", "arch",     "kernel",    "output",  "work_dir", "cache_dir",
    "mirror", "lock",    "sign_key", "sign_cert", "keyring", "verifier", "stage"};

static int in_list(const char *const *list, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], key) == 0)
			return 1;
	return 0;
}

/* A scalar setting as text; lists of scalars joined with commas. */
static int setting_text(const config_setting_t *s, const char *path, char **out)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		*out = xstrdup(config_setting_get_string(s));
		return 0;
	case CONFIG_TYPE_INT:
		*out = xasprintf("%d", config_setting_get_int(s));
		return 0;
	case CONFIG_TYPE_INT64:
		*out = xasprintf("%lld", config_setting_get_int64(s));
		return 0;
	case CONFIG_TYPE_FLOAT:
		*out = xasprintf("%g", config_setting_get_float(s));
		return 0;
	case CONFIG_TYPE_BOOL:
		*out = xstrdup(config_setting_get_bool(s) ? "true" : "false");
		return 0;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST: {
		char *joined = xstrdup("");
		for (int i = 0; i < config_setting_length(s); i++) {
			_cleanup_free_ char *item = NULL, *prev = joined;
			int r = setting_text(config_setting_get_elem(s, (unsigned)i), path, &item);
			if (r < 0)
				return r; /* prev, the list so far, is freed on the way out */
			joined = xasprintf("%s%s%s", prev, i ? "," : "", item);
		}
		*out = joined;
		return 0;
	}
	default:
		return err_set(-KLD_E_CONFIG, "%s:%u: '%s' must be a value, not a group", path,
		               config_setting_source_line(s), config_setting_name(s));
	}
}

static int load_scalar(struct plan *plan, const config_setting_t *s, const char *key,
                       const char *path)
{
	_cleanup_free_ char *value = NULL, *origin = NULL;
	int type = config_setting_type(s);
	int r;

	if (in_list(number_keys, ARRAY_SIZE(number_keys), key) && type != CONFIG_TYPE_INT &&
	    type != CONFIG_TYPE_INT64)
		return err_set(-KLD_E_CONFIG, "%s:%u: '%s' must be a whole number", path,
		               config_setting_source_line(s), key);
	if (in_list(string_keys, ARRAY_SIZE(string_keys), key) && type != CONFIG_TYPE_STRING)
		return err_set(-KLD_E_CONFIG, "%s:%u: '%s' must be a string (in double quotes)",
		               path, config_setting_source_line(s), key);
	r = setting_text(s, path, &value);
	if (r < 0)
		return r;
	origin = xasprintf("%s:%u", path, config_setting_source_line(s));
	plan_set(plan, key, value, origin);
	return 0;
}

static int load_group(struct plan *plan, const config_setting_t *group, const char *path)
{
	const char *plugin = config_setting_name(group);

	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		_cleanup_free_ char *key = xasprintf("%s.%s", plugin, config_setting_name(s));
		int r = load_scalar(plan, s, key, path);
		if (r < 0)
			return r;
	}
	return 0;
}

int config_load(struct plan *plan, const char *path, int required)
{
	config_t cfg;
	const config_setting_t *root;
	int r = 0;

	if (!path_exists(path)) {
		if (required)
			return err_set(-ENOENT, "configuration file %s does not exist", path);
		return 0;
	}
	config_init(&cfg);
	if (!config_read_file(&cfg, path)) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			r = err_set(-EIO, "cannot read configuration file %s", path);
		else
			r = err_set(-KLD_E_CONFIG, "%s:%d: %s", path, config_error_line(&cfg),
			            config_error_text(&cfg));
		goto out;
	}
	root = config_root_setting(&cfg);
	for (int i = 0; r == 0 && i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);

		if (config_setting_is_group(s) && option_by_key(name))
			r = err_set(-KLD_E_CONFIG, "%s:%u: '%s' must be a value, not a group", path,
			            config_setting_source_line(s), name);
		else if (config_setting_is_group(s))
			r = load_group(plan, s, path);
		else if (option_by_key(name))
			r = load_scalar(plan, s, name, path);
		else
			log_warn(NULL, "%s:%u: unknown setting '%s' ignored", path,
			         config_setting_source_line(s), name);
	}
out:
	config_destroy(&cfg);
	return r;
}

char *config_system_path(void)
{
	const char *dir = getenv("KLDLOAD_SYSCONFDIR");

	return xasprintf("%s/kldload/kldload.conf", dir && *dir ? dir : KLDLOAD_SYSCONF_DIR);
}

char *config_user_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (xdg && *xdg)
		return xasprintf("%s/kldload/kldload.conf", xdg);
	if (home && *home)
		return xasprintf("%s/.config/kldload/kldload.conf", home);
	return NULL;
}
