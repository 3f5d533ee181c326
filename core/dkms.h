/* SPDX-License-Identifier: MIT */
/*
 * dkms.conf, read the way dkms reads it. A dkms.conf is a bash fragment: it is sourced by a real
 * bash (inside the build root's sandbox in production) with the variables dkms defines for it
 * ($kernelver, $arch, $kernel_source_dir, $dkms_tree, $source_tree, $module, $module_version,
 * $install_tree, $kernel_config), and each of dkms's variables is then passed through the same
 * `echo` re-evaluation dkms's safe_source() applies (so values are word-split and re-joined
 * exactly as dkms sees them). The evaluator prints NUL-separated records
 * "NAME\0INDEX\0VALUE\0" that dkms_vars_parse() reads; dkms_conf_resolve() then applies dkms's
 * read_conf() rules (defaults, checks, MAKE_MATCH, PATCH_MATCH, BUILD_EXCLUSIVE_*).
 * See docs/dkms.md for what is honoured.
 */
#ifndef KLDLOAD_CORE_DKMS_H
#define KLDLOAD_CORE_DKMS_H

#include <stddef.h>

/* The variables dkms defines for a dkms.conf (all required but kernel_config). */
struct dkms_env {
	const char *kernelver;         /* the target kernel release, never the host's */
	const char *arch;              /* dkms's arch: `uname -m` of the target, e.g. x86_64 */
	const char *kernel_source_dir; /* /lib/modules/$kernelver/build */
	const char *dkms_tree;         /* /var/lib/dkms in dkms; where builds happen */
	const char *source_tree;       /* /usr/src */
	const char *install_tree;      /* /lib/modules */
	const char *module;            /* PACKAGE_NAME as dkms was told it */
	const char *module_version;
	const char *kernel_config; /* $kernel_source_dir/.config */
	const char *parallel_jobs; /* dkms's -j (its CPU count); NULL leaves it unset */
};

/* Raw variables as the evaluator printed them. */
struct dkms_var {
	char *name;
	long index;
	char *value;
};
struct dkms_vars {
	struct dkms_var *v;
	size_t n;
};

int dkms_vars_parse(const char *buf, size_t len, struct dkms_vars *out);
void dkms_vars_release(struct dkms_vars *vars);
/* NAME[index], or NULL when unset. A scalar is index 0. */
const char *dkms_var(const struct dkms_vars *vars, const char *name, long index);
/* One more than the highest index set for `name`, 0 when none. */
long dkms_var_count(const struct dkms_vars *vars, const char *name);

struct dkms_module {
	char *built_name;     /* BUILT_MODULE_NAME[i], without .ko */
	char *built_location; /* BUILT_MODULE_LOCATION[i]: "" or ending in '/' */
	char *dest_name;      /* DEST_MODULE_NAME[i], default built_name */
	char *dest_location;  /* DEST_MODULE_LOCATION[i] as written, e.g. "/extra" */
	int strip;            /* STRIP[i]: 1 unless "no" */
};

struct dkms_conf {
	char *package_name, *package_version;
	char *make;       /* MAKE[] chosen by MAKE_MATCH[] for kernelver, or dkms's default */
	char *clean;      /* CLEAN, or NULL */
	char *pre_build;  /* PRE_BUILD, or NULL */
	char *post_build; /* POST_BUILD, or NULL */
	char **patches;   /* PATCH[] selected by PATCH_MATCH[] for kernelver */
	size_t n_patches;
	char *exclusive_kernel, *exclusive_kernel_min, *exclusive_kernel_max;
	char *exclusive_arch, *exclusive_config;
	char *build_depends; /* BUILD_DEPENDS[] joined with spaces, or NULL */
	int autoinstall;     /* AUTOINSTALL="yes" */
	struct dkms_module *modules;
	size_t n_modules;
};

/*
 * Apply dkms's read_conf() rules for kernel `env->kernelver`. On a bad dkms.conf, returns
 * -KLD_E_CONFIG with the first of dkms's own complaints ("No 'PACKAGE_NAME' directive", ...).
 */
int dkms_conf_resolve(const struct dkms_vars *vars, const struct dkms_env *env,
                      struct dkms_conf *conf);
void dkms_conf_release(struct dkms_conf *conf);

/*
 * BUILD_EXCLUSIVE_KERNEL (an ERE matched against the release), _KERNEL_MIN/_MAX (version
 * comparisons), _ARCH (an ERE matched against arch) and _CONFIG (a list of CONFIG_X, or !CONFIG_X,
 * checked for =y or =m in `kconfig`, the kernel's .config text; NULL skips the check, as dkms
 * does when the file is missing). Returns 1 and a malloc'd *why when the module must not be built
 * for this kernel, 0 when it may, negative on a bad regular expression.
 */
int dkms_excluded(const struct dkms_conf *conf, const char *kernelver, const char *arch,
                  const char *kconfig, char **why);

/* Compare versions as dkms's VER() does: numeric runs by value, other characters in order. */
int dkms_vercmp(const char *a, const char *b);

/*
 * The bash program that sources a dkms.conf and prints its variables. Run it as
 *   bash -c "$(dkms_eval_script())" dkms-eval /path/to/dkms.conf
 * with dkms_env_strv() in the environment.
 */
const char *dkms_eval_script(void);
/* "kernelver=...", ... for `env`: NULL-terminated malloc'd array of malloc'd strings. */
char **dkms_env_strv(const struct dkms_env *env);

/*
 * The bash program that builds an evaluated dkms.conf the way `dkms build` does (patches,
 * PRE_BUILD, make with -j and KERNELRELEASE, checks, strip, POST_BUILD), reading the resolved
 * configuration from the environment made by dkms_build_strv(). Its working directory must be
 * the build directory ($dkms_tree/$module/$module_version/build) holding a copy of the source.
 * The built modules are copied to $dkms_tree/$module/$module_version/$kernelver/$arch/module/.
 */
const char *dkms_build_script(void);
char **dkms_build_strv(const struct dkms_conf *conf, const struct dkms_env *env, int jobs);

/*
 * For tests and tools: evaluate `conf_path` with the host's bash in an empty environment (no
 * sandbox: only for trusted files). Production evaluates inside the sandbox instead.
 */
int dkms_eval_host(const char *conf_path, const struct dkms_env *env, struct dkms_vars *vars);

#endif
