/* SPDX-License-Identifier: MIT */
/* `kldload [build] [OPTIONS]`: read the configuration and the command line, load the plugins,
 * and run the stages. */
#include <getopt.h>
#include <limits.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "exitcode.h"
#include "log.h"
#include "plugin.h"
#include "stage.h"
#include "util.h"

#define OPT_BASE 256

struct cli {
	struct plan plan;
	char **configs; /* --config files, in order */
	size_t n_configs;
	int verbosity;
	int dry_run;
	int force;
	int first_stage, last_stage;
	struct loaded_plugin **plugins;
	size_t n_plugins;
};

int exit_code_for(int err)
{
	switch (err) {
	case 0:
		return EXIT_OK;
	case -KLD_E_CANCELLED:
		return EXIT_INTERRUPT;
	case -KLD_E_VERIFY:
		return EXIT_VERIFY;
	case -KLD_E_UNSAT:
		return EXIT_UNSAT;
	case -KLD_E_CONFIG:
	case -EINVAL:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}

static void usage(FILE *f)
{
	_cleanup_free_ char *sys = config_system_path();

	fprintf(
	    f,
	    "Usage: kldload [COMMAND] [OPTIONS]\n\n"
	    "Builds out-of-tree kernel modules for a distribution's own kernel, signs them, and\n"
	    "packs them with the distribution's packages into a bootable installer image.\n\n"
	    "  kldload --plugin debian --module zfs,wireguard\n\nCommands:\n");
	print_commands(f);
	fprintf(f, "\nOptions:\n");
	for (size_t i = 0; i < n_core_options; i++) {
		const struct option_def *o = &core_options[i];
		char left[64];

		snprintf(left, sizeof(left), "%c%c%s--%s%s%s", o->short_name ? '-' : ' ',
		         o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ",
		         o->long_name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-32s %s\n", left, o->help);
	}
	fprintf(
	    f,
	    "\nStages, in order: fetch, resolve, build-modules, sign, assemble, boot-config.\n"
	    "Configuration: %s, then the user's file, then --config; the command line wins.\n"
	    "Environment: KLDLOAD_LOG (e.g. debug, or fetch=trace), KLDLOAD_PLUGIN_PATH.\n\n"
	    "Exit status: 0 success, 1 a stage failed, 2 bad command line or configuration,\n"
	    "3 a plugin was not found or was refused, 4 something did not verify, 5 the request\n"
	    "cannot be satisfied, 130 interrupted.\n",
	    sys);
}

static void version(void)
{
	printf("kldload %s (plugin ABI %u.%u)\n", KLDLOAD_VERSION, KLD_ABI_MAJOR, KLD_ABI_MINOR);
}

/* getopt_long tables built from core_options[]. */
static void build_getopt(struct option *longs, char *shorts)
{
	char *s = shorts;

	*s++ = '+'; /* stop at the first non-option: it is an error we report ourselves */
	for (size_t i = 0; i < n_core_options; i++) {
		const struct option_def *o = &core_options[i];
		longs[i] = (struct option){o->long_name, o->arg ? required_argument : no_argument,
		                           NULL, OPT_BASE + (int)i};
		if (o->short_name) {
			*s++ = (char)o->short_name;
			if (o->arg)
				*s++ = ':';
		}
	}
	longs[n_core_options] = (struct option){0};
	*s = '\0';
}

static int option_index(int c)
{
	if (c >= OPT_BASE)
		return c - OPT_BASE;
	for (size_t i = 0; i < n_core_options; i++)
		if (core_options[i].short_name == c)
			return (int)i;
	return -1;
}

static int parse_stage_range(struct cli *cli, const char *arg)
{
	const char *dots = strstr(arg, "..");
	_cleanup_free_ char *from = dots ? strndup(arg, (size_t)(dots - arg)) : xstrdup(arg);
	const char *to = dots ? dots + 2 : arg;

	cli->first_stage = *from ? stage_by_name(from) : 0;
	cli->last_stage = *to ? stage_by_name(to) : STAGE_COUNT - 1;
	if (cli->first_stage < 0 || cli->last_stage < 0)
		return err_set(
		    -EINVAL,
		    "unknown stage in '%s' (stages: fetch, resolve, build-modules, sign, assemble, boot-config)",
		    arg);
	if (cli->first_stage > cli->last_stage)
		return err_set(-EINVAL, "stage range '%s' runs backwards", arg);
	return 0;
}

static int set_plugin_option(struct cli *cli, const char *arg)
{
	const char *eq = strchr(arg, '=');
	const char *dot = strchr(arg, '.');
	_cleanup_free_ char *key = NULL;

	if (!eq || !dot || dot > eq || dot == arg || eq == dot + 1)
		return err_set(-EINVAL, "--option '%s' must look like PLUGIN.KEY=VALUE", arg);
	key = strndup(arg, (size_t)(eq - arg));
	plan_set(&cli->plan, key, eq + 1, "command line");
	return 0;
}

static void add_modules(struct cli *cli, const char *arg, int *modules_seen)
{
	const char *prev = plan_get(&cli->plan, "modules");
	_cleanup_free_ char *joined = NULL;

	/* The command line's modules replace the configuration's; repeated -m add up. */
	if (*modules_seen && prev && *prev)
		joined = xasprintf("%s,%s", prev, arg);
	else
		joined = xstrdup(arg);
	*modules_seen = 1;
	plan_set(&cli->plan, "modules", joined, "command line");
}

/* First pass: what decides how the rest is read (logging, --help, --config). */
static int pre_scan(struct cli *cli, int argc, char **argv, const struct option *longs,
                    const char *shorts)
{
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		int i = option_index(c);
		const char *name = i >= 0 ? core_options[i].long_name : "";

		if (c == '?' || c == ':')
			return err_set(-EINVAL,
			               "unknown option or missing value: '%s' (try --help)",
			               argv[optind - 1]);
		if (!strcmp(name, "help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(name, "version")) {
			version();
			return 1;
		}
		if (!strcmp(name, "verbose"))
			cli->verbosity = cli->verbosity < 0 ? 1 : cli->verbosity + 1;
		else if (!strcmp(name, "quiet"))
			cli->verbosity = -1;
		else if (!strcmp(name, "config")) {
			cli->configs = realloc(cli->configs, (cli->n_configs + 1) * sizeof(char *));
			if (!cli->configs)
				abort();
			cli->configs[cli->n_configs++] = xstrdup(optarg);
		}
	}
	if (optind < argc)
		return err_set(-EINVAL, "unexpected argument '%s' (try --help)", argv[optind]);
	return 0;
}

static int apply_args(struct cli *cli, int argc, char **argv, const struct option *longs,
                      const char *shorts)
{
	int c, modules_seen = 0, r = 0;

	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct option_def *o = &core_options[option_index(c)];

		if (o->key && !strcmp(o->key, "modules"))
			add_modules(cli, optarg, &modules_seen);
		else if (o->key)
			plan_set(&cli->plan, o->key, optarg ? optarg : "true", "command line");
		else if (!strcmp(o->long_name, "option"))
			r = set_plugin_option(cli, optarg);
		else if (!strcmp(o->long_name, "stage"))
			r = parse_stage_range(cli, optarg);
		else if (!strcmp(o->long_name, "force"))
			cli->force = 1;
		else if (!strcmp(o->long_name, "dry-run"))
			cli->dry_run = 1;
	}
	return r;
}

static int load_configs(struct cli *cli)
{
	_cleanup_free_ char *sys = config_system_path(), *user = config_user_path();
	int r = config_load(&cli->plan, sys, 0);

	if (r == 0 && user)
		r = config_load(&cli->plan, user, 0);
	for (size_t i = 0; r == 0 && i < cli->n_configs; i++)
		r = config_load(&cli->plan, cli->configs[i], 1);
	return r;
}

static char *absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return xstrdup(path);
	return path_join(cwd, path);
}

static void default_dir(struct plan *plan, const char *key, const char *fallback)
{
	const char *v = plan_get(plan, key);
	_cleanup_free_ char *abs = absolute(v ? v : fallback);

	plan_set(plan, key, abs, v ? plan_find(plan, key)->origin : "default");
}

static char *default_cache_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (xdg && *xdg)
		return path_join(xdg, "kldload");
	if (home && *home)
		return xasprintf("%s/.cache/kldload", home);
	return xstrdup("kldload-cache");
}

/* A plan value that must be a whole number of seconds, 1 to a day, when set. */
static int check_seconds(const struct plan *plan, const char *key)
{
	const struct kv *kv = plan_find(plan, key);
	char *end;
	long n;

	if (!kv)
		return 0;
	n = strtol(kv->value, &end, 10);
	if (end == kv->value || *end || n < 1 || n > 86400)
		return err_set(-EINVAL, "%s '%s' (%s) must be a number of seconds from 1 to 86400",
		               key, kv->value, kv->origin);
	return 0;
}

static int fill_defaults(struct plan *plan)
{
	_cleanup_free_ char *cache = default_cache_dir();
	const char *jobs = plan_get(plan, "jobs");
	char *end;

	if (!plan_get(plan, "plugin"))
		plan_set(plan, "plugin", "debian", "default");
	default_dir(plan, "work_dir", "kldload-work");
	default_dir(plan, "output", "kldload-out");
	default_dir(plan, "cache_dir", cache);
	if (!jobs) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		_cleanup_free_ char *s = xasprintf("%ld", n > 0 ? n : 1);
		plan_set(plan, "jobs", s, "default");
	} else {
		long n = strtol(jobs, &end, 10);
		if (*end || n < 1 || n > 1024)
			return err_set(-EINVAL, "jobs '%s' (%s) must be a number from 1 to 1024",
			               jobs, plan_find(plan, "jobs")->origin);
	}
	return check_seconds(plan, "fetch_timeout");
}

static int add_plugin(struct cli *cli, struct loaded_plugin *p)
{
	for (size_t i = 0; i < cli->n_plugins; i++) {
		if (strcmp(cli->plugins[i]->instance, p->instance) == 0) {
			int r = err_set(-EEXIST, "plugins %s and %s both declare the name '%s'",
			                cli->plugins[i]->path, p->path, p->instance);
			plugin_free(p);
			return r;
		}
	}
	cli->plugins = realloc(cli->plugins, (cli->n_plugins + 1) * sizeof(*cli->plugins));
	if (!cli->plugins)
		abort();
	cli->plugins[cli->n_plugins++] = p;
	return 0;
}

struct module_list {
	char *names;
};

static void collect_module(const char *path, const struct loaded_plugin *p, const char *error,
                           int shadowed, void *userdata)
{
	struct module_list *l = userdata;
	char *prev = l->names;

	(void)path;
	(void)error;
	if (!p || shadowed || p->desc.kind != KLD_KIND_MODULE)
		return;
	l->names = xasprintf("%s%s%s", prev ? prev : "", prev ? ", " : "", p->desc.name);
	free(prev);
}

static int unknown_module(char *const *dirs, const char *name)
{
	struct module_list l = {0};
	int r;

	plugin_scan(dirs, collect_module, &l);
	r = err_set(-ENOENT, "unknown module '%s'; available modules: %s", name,
	            l.names ? l.names : "none (check --plugin-path)");
	free(l.names);
	return r;
}

static int load_module(struct cli *cli, char *const *dirs, const char *spec)
{
	const char *colon = strchr(spec, ':');
	_cleanup_free_ char *name = colon ? strndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
	_cleanup_free_ char *path = NULL;
	struct loaded_plugin *p;
	int r;

	if (colon && !colon[1])
		return err_set(-EINVAL, "module '%s' has an empty argument after ':'", spec);
	r = plugin_find(dirs, name, &path);
	if (r == -ENOENT && !strchr(name, '/'))
		return unknown_module(dirs, name);
	if (r < 0)
		return r;
	r = plugin_load(path, KLD_KIND_MODULE, &p);
	if (r < 0)
		return r;
	if (colon) {
		p->arg = xstrdup(colon + 1);
		free(p->instance);
		p->instance = xasprintf("%s:%s", p->desc.name, p->arg);
		p->ctx.name = p->instance;
	}
	return add_plugin(cli, p);
}

static int load_plugins(struct cli *cli)
{
	char **dirs = plugin_search_dirs(plan_get(&cli->plan, "plugin_path"));
	char **modules = plan_modules(&cli->plan);
	_cleanup_free_ char *path = NULL;
	struct loaded_plugin *p;
	int r;

	for (size_t i = 0; dirs[i]; i++)
		log_debug("plugin", "search path: %s", dirs[i]);
	r = plugin_find(dirs, plan_get(&cli->plan, "plugin"), &path);
	if (r == 0)
		r = plugin_load(path, KLD_KIND_DISTRO, &p);
	if (r == 0)
		r = add_plugin(cli, p);
	for (char **m = modules; r == 0 && *m; m++)
		r = load_module(cli, dirs, *m);
	strv_free(modules);
	strv_free(dirs);
	return r;
}

/* Warn about configuration groups that name no loaded plugin and no plugin in the path. */
static void warn_unknown_groups(const struct cli *cli)
{
	char **dirs = plugin_search_dirs(plan_get(&cli->plan, "plugin_path"));

	for (size_t i = 0; i < cli->plan.n_items; i++) {
		const struct kv *kv = &cli->plan.items[i];
		const char *dot = strchr(kv->key, '.');
		_cleanup_free_ char *group = NULL, *path = NULL;

		if (!dot)
			continue;
		group = strndup(kv->key, (size_t)(dot - kv->key));
		if (plugin_find(dirs, group, &path) < 0)
			log_warn(NULL, "%s: setting '%s' is for '%s', which is not a known plugin",
			         kv->origin, kv->key, group);
	}
	err_clear();
	strv_free(dirs);
}

static void dry_run(const struct cli *cli)
{
	_cleanup_free_ char *text = plan_format(&cli->plan);

	printf("# plan\n%s# plugins\n", text);
	for (size_t i = 0; i < cli->n_plugins; i++) {
		const struct loaded_plugin *p = cli->plugins[i];
		printf("%s %s %s %s\n", plugin_kind_name(p->desc.kind), p->instance,
		       p->desc.version, p->path);
	}
	printf("# stages\n");
	for (int id = cli->first_stage; id <= cli->last_stage; id++)
		printf("%s\n", stage_name((enum stage_id)id));
}

static void cli_release(struct cli *cli)
{
	for (size_t i = 0; i < cli->n_plugins; i++)
		plugin_free(cli->plugins[i]);
	free(cli->plugins);
	for (size_t i = 0; i < cli->n_configs; i++)
		free(cli->configs[i]);
	free(cli->configs);
	plan_release(&cli->plan);
}

static int fail(int r, int code)
{
	const char *msg = err_msg();

	fprintf(stderr, "kldload: %s\n", *msg ? msg : err_str(r));
	return code;
}

static int build_main(struct cli *cli, int argc, char **argv)
{
	struct option longs[64];
	char shorts[128];
	int r;

	build_getopt(longs, shorts);
	r = pre_scan(cli, argc, argv, longs, shorts);
	if (r != 0)
		return r > 0 ? EXIT_OK : fail(r, EXIT_USAGE);
	log_setup(cli->verbosity, getenv("KLDLOAD_LOG"));
	r = load_configs(cli);
	if (r == 0)
		r = apply_args(cli, argc, argv, longs, shorts);
	if (r == 0)
		r = fill_defaults(&cli->plan);
	if (r < 0)
		return fail(r, EXIT_USAGE);
	r = load_plugins(cli);
	if (r < 0)
		return fail(r, EXIT_PLUGIN);
	warn_unknown_groups(cli);
	if (cli->dry_run) {
		dry_run(cli);
		return EXIT_OK;
	}
	r = runner_run(&(struct runner_opts){
	    .plan = &cli->plan,
	    .plugins = cli->plugins,
	    .n_plugins = cli->n_plugins,
	    .first = cli->first_stage,
	    .last = cli->last_stage,
	    .force = cli->force,
	});
	return r < 0 ? fail(r, exit_code_for(r)) : EXIT_OK;
}

int cmd_build(int argc, char **argv)
{
	struct cli cli = {.first_stage = 0, .last_stage = STAGE_COUNT - 1};
	int code = build_main(&cli, argc, argv);

	cli_release(&cli);
	return code;
}
