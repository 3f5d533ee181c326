/* SPDX-License-Identifier: MIT */
#include "commands.h"

int main(int argc, char **argv)
{
	return kldload_main(argc, argv);
}
