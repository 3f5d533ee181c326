/* SPDX-License-Identifier: MIT */
/* `kldload plugins`: every plugin in the plugin path, with what the loader thinks of it. */
#include <getopt.h>
#include <string.h>

#include "commands.h"
#include "exitcode.h"
#include "log.h"
#include "plugin.h"
#include "util.h"

static void print_plugin(const char *path, const struct loaded_plugin *p, const char *error,
                         int shadowed, void *userdata)
{
	int *refused = userdata;

	if (!p) {
		fprintf(stderr, "kldload: refused: %s\n", error);
		(*refused)++;
		return;
	}
	printf("%-16s %-7s %-10s %u.%-4u %-22s %s%s\n", p->desc.name,
	       plugin_kind_name(p->desc.kind), p->desc.version, p->desc.abi_major,
	       p->desc.abi_minor, p->desc.license, path, shadowed ? " (shadowed)" : "");
}

int cmd_plugins(int argc, char **argv)
{
	static const struct option longs[] = {
	    {"plugin-path", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *plugin_path = NULL;
	char **dirs;
	int c, refused = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longs, NULL)) != -1) {
		if (c == 'P') {
			plugin_path = optarg;
		} else if (c == 'h') {
			printf(
			    "Usage: kldload plugins [--plugin-path DIRS]\n\n"
			    "Lists every plugin in the plugin path: name, kind, version, ABI,\n"
			    "licence and file. Plugins the loader refuses are reported on stderr,\n"
			    "and the exit status is then 3.\n");
			return EXIT_OK;
		} else {
			fprintf(stderr, "kldload: plugins: unknown option '%s'\n",
			        argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	log_setup(0, getenv("KLDLOAD_LOG"));
	dirs = plugin_search_dirs(plugin_path);
	printf("%-16s %-7s %-10s %-6s %-22s %s\n", "NAME", "KIND", "VERSION", "ABI", "LICENSE",
	       "FILE");
	plugin_scan(dirs, print_plugin, &refused);
	strv_free(dirs);
	return refused ? EXIT_PLUGIN : EXIT_OK;
}
