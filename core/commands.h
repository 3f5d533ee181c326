/* SPDX-License-Identifier: MIT */
/* Subcommands of `kldload`. Each returns the process exit code (see exitcode.h). */
#ifndef KLDLOAD_CORE_COMMANDS_H
#define KLDLOAD_CORE_COMMANDS_H

#include <stdio.h>

int kldload_main(int argc, char **argv); /* dispatches to the commands below */
void print_commands(FILE *f);            /* for --help */
int exit_code_for(int err);              /* exit code for a negative error code */

int cmd_build(int argc, char **argv);         /* the default: run the stages */
int cmd_plugins(int argc, char **argv);       /* list plugins */
int cmd_keygen(int argc, char **argv);        /* make a module signing key and certificate */
int cmd_verify_module(int argc, char **argv); /* report and check a module's signature */

#endif
