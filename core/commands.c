/* SPDX-License-Identifier: MIT */
/* The subcommands of `kldload`: one row each. */
#include <string.h>

#include "commands.h"
#include "common.h"
#include "exitcode.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct subcommand subcommands[] = {
    {"build", cmd_build, "run the stages (the default when no command is given)"},
    {"plugins", cmd_plugins, "list the plugins found in the plugin path"},
    {"keygen", cmd_keygen, "make a module signing key and certificate (for MOK enrolment)"},
    {"verify-module", cmd_verify_module,
     "report a module's signer, key id and hash; check it with --cert"},
};

int kldload_main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] != '-') {
		for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
			if (strcmp(argv[1], subcommands[i].name) == 0)
				return subcommands[i].fn(argc - 1, argv + 1);
		fprintf(stderr, "kldload: unknown command '%s' (try 'kldload --help')\n", argv[1]);
		return EXIT_USAGE;
	}
	return cmd_build(argc, argv);
}

void print_commands(FILE *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(f, "  %-15s %s\n", subcommands[i].name, subcommands[i].help);
}
