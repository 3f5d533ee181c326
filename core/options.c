/* SPDX-License-Identifier: MIT */
/*
 * The options the core knows, one row each: the command line, the configuration files and the
 * plan all use these names. Rows without a key are actions handled by the command line parser.
 * Stages add their own rows here.
 */
#include <string.h>

#include "plan.h"

const struct option_def core_options[] = {
    {"plugin", 'p', "plugin", "NAME|PATH", "distro driver plugin (default: debian)"},
    {"module", 'm', "modules", "LIST",
     "kernel modules to build, comma-separated, repeatable (e.g. zfs,wireguard, nvidia or dkms:PACKAGE)"},
    {"release", 'r', "release", "RELEASE", "release to build (default: the driver's, e.g. stable)"},
    {"arch", 'a', "arch", "ARCH", "target architecture (default: the driver's, e.g. amd64)"},
    {"kernel", 'k', "kernel", "KERNEL", "target kernel (default: the release's newest)"},
    {"output", 'o', "output", "DIR", "where results are placed (default: ./kldload-out)"},
    {"config", 'c', NULL, "FILE", "read this configuration file after the system and user ones"},
    {"cache-dir", 0, "cache_dir", "DIR", "download cache (default: $XDG_CACHE_HOME/kldload)"},
    {"work-dir", 0, "work_dir", "DIR", "stage artifacts (default: ./kldload-work)"},
    {"jobs", 'j', "jobs", "N", "parallel downloads and builds (default: number of CPUs)"},
    {"plugin-path", 0, "plugin_path", "DIRS",
     "colon-separated directories searched for plugins first"},
    {"sign-key", 0, "sign_key", "FILE|URI",
     "module signing key: a PEM file or a pkcs11: URI (default: a per-user key made once)"},
    {"sign-cert", 0, "sign_cert", "FILE|URI",
     "certificate of the signing key, PEM or DER (default: from the key file)"},
    {"resign", 0, "resign", NULL,
     "re-sign modules that already carry a signature (default: refuse them)"},
    {"mirror", 0, "mirror", "URL", "package mirror (default: the host's APT sources)"},
    {"lock", 0, "lock", "FILE",
     "rebuild exactly the package set of this lock file (no resolution)"},
    {"keyring", 0, "keyring", "FILES", "OpenPGP keyring(s) for release files, colon-separated"},
    {"verifier", 0, "verifier", "sqv|gpgv",
     "OpenPGP verifier (default: sqv if installed, else gpgv)"},
    {"fetch-timeout", 0, "fetch_timeout", "SECONDS",
     "give a transfer up after this long without data (default: 30)"},
    {"option", 'O', NULL, "PLUGIN.KEY=VALUE", "set a plugin's option (repeatable)"},
    {"stage", 's', NULL, "NAME|FROM..TO", "run only this stage or range of stages"},
    {"force", 'f', NULL, NULL, "run stages even when their inputs have not changed"},
    {"dry-run", 'n', NULL, NULL, "print the plan and what would run, then stop"},
    {"verbose", 'v', NULL, NULL, "say more on stderr (-v info, -vv debug, -vvv trace)"},
    {"quiet", 'q', NULL, NULL, "print errors only"},
    {"help", 'h', NULL, NULL, "show this help and exit"},
    {"version", 'V', NULL, NULL, "show the version and the plugin ABI and exit"},
};
const size_t n_core_options = sizeof(core_options) / sizeof(core_options[0]);

const struct option_def *option_by_key(const char *key)
{
	for (size_t i = 0; i < n_core_options; i++)
		if (core_options[i].key && strcmp(core_options[i].key, key) == 0)
			return &core_options[i];
	return NULL;
}
