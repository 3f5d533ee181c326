/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <fcntl.h>
#include <regex.h>
#include <string.h>
#include <sys/wait.h>

#include "dkms.h"
#include "util.h"

/* The variables dkms reads from a dkms.conf (its $dkms_conf_variables, upper-case part). */
#define DKMS_VARIABLES                                                                             \
	"PACKAGE_NAME PACKAGE_VERSION POST_ADD POST_BUILD POST_INSTALL POST_REMOVE PRE_BUILD "     \
	"PRE_INSTALL BUILD_DEPENDS BUILD_EXCLUSIVE_ARCH BUILD_EXCLUSIVE_CONFIG "                   \
	"BUILD_EXCLUSIVE_KERNEL BUILD_EXCLUSIVE_KERNEL_MIN BUILD_EXCLUSIVE_KERNEL_MAX "            \
	"OBSOLETE_BY MAKE MAKE_MATCH PATCH PATCH_MATCH BUILT_MODULE_NAME BUILT_MODULE_LOCATION "   \
	"DEST_MODULE_NAME DEST_MODULE_LOCATION STRIP AUTOINSTALL NO_WEAK_MODULES "                 \
	"BUILD_DEPENDS_REBUILD CLEAN"

/*
 * $1: the dkms.conf, $2: where to write the records. Like dkms's safe_source(): source the file
 * in a subshell (its stdout discarded), pass every element through `eval echo` (word splitting,
 * trailing CR removed), source the result again, then print NAME\0INDEX\0VALUE\0 records.
 */
static const char eval_script[] =
    "conf=$1\n"
    "vars='" DKMS_VARIABLES "'\n"
    "for _v in $vars; do unset \"$_v\"; done\n"
    "[ -r \"$conf\" ] || { echo \"dkms.conf: cannot read $conf\" >&2; exit 2; }\n"
    "exec 3>\"$2\" || exit 2\n"
    "CR=$(printf '\\r')\n"
    "_lines=$(\n"
    "  . \"$conf\" >/dev/null\n"
    "  for _v in $vars; do\n"
    "    for _i in $(eval echo \\${!\"$_v\"[@]}); do\n"
    "      eval echo '$_v[$_i]=\\\"${'\"$_v\"'[$_i]%$CR}\\\"'\n"
    "    done\n"
    "  done\n"
    ")\n"
    "eval \"$_lines\"\n"
    "for _v in $vars; do\n"
    "  for _i in $(eval echo \\${!\"$_v\"[@]}); do\n"
    "    eval \"_val=\\${$_v[$_i]}\"\n"
    "    printf '%s\\0%s\\0%s\\0' \"$_v\" \"$_i\" \"$_val\" >&3\n"
    "  done\n"
    "done\n";

const char *dkms_eval_script(void)
{
	return eval_script;
}

/* ---- records ---- */

static void vars_add(struct dkms_vars *vars, const char *name, long index, const char *value)
{
	struct dkms_var *v = realloc(vars->v, (vars->n + 1) * sizeof(*v));

	if (!v)
		abort();
	vars->v = v;
	v[vars->n].name = xstrdup(name);
	v[vars->n].index = index;
	v[vars->n].value = xstrdup(value);
	vars->n++;
}

int dkms_vars_parse(const char *buf, size_t len, struct dkms_vars *out)
{
	struct dkms_vars vars = {0};
	size_t pos = 0;

	while (pos < len) {
		const char *f[3];
		char *end;
		long index;

		for (int i = 0; i < 3; i++) {
			const char *nul = memchr(buf + pos, '\0', len - pos);

			if (!nul) {
				dkms_vars_release(&vars);
				return err_set(-EBADMSG, "dkms.conf evaluation: truncated record");
			}
			f[i] = buf + pos;
			pos = (size_t)(nul - buf) + 1;
		}
		errno = 0;
		index = strtol(f[1], &end, 10);
		if (errno || *end || end == f[1] || index < 0) {
			dkms_vars_release(&vars);
			return err_set(-EBADMSG, "dkms.conf: %s has a bad array index '%s'", f[0],
			               f[1]);
		}
		vars_add(&vars, f[0], index, f[2]);
	}
	*out = vars;
	return 0;
}

void dkms_vars_release(struct dkms_vars *vars)
{
	for (size_t i = 0; i < vars->n; i++) {
		free(vars->v[i].name);
		free(vars->v[i].value);
	}
	free(vars->v);
	vars->v = NULL;
	vars->n = 0;
}

const char *dkms_var(const struct dkms_vars *vars, const char *name, long index)
{
	for (size_t i = 0; i < vars->n; i++)
		if (vars->v[i].index == index && !strcmp(vars->v[i].name, name))
			return vars->v[i].value;
	return NULL;
}

long dkms_var_count(const struct dkms_vars *vars, const char *name)
{
	long n = 0;

	for (size_t i = 0; i < vars->n; i++)
		if (!strcmp(vars->v[i].name, name) && vars->v[i].index + 1 > n)
			n = vars->v[i].index + 1;
	return n;
}

/* ---- read_conf() rules ---- */

/* A non-empty value, dkms's [[ $x ]]. */
static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

static char *dup_or_null(const char *s)
{
	return nonempty(s) ? xstrdup(s) : NULL;
}

/* bash's [[ $s =~ $re ]]: 1 match, 0 no match, negative for a bad expression. */
static int ere_match(const char *re, const char *s)
{
	regex_t rx;
	int r = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);

	if (r) {
		char msg[256];

		regerror(r, &rx, msg, sizeof(msg));
		return err_set(-KLD_E_CONFIG, "dkms.conf: bad regular expression '%s': %s", re,
		               msg);
	}
	r = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return r;
}

static int strip_value(const struct dkms_vars *vars, long i, int first)
{
	const char *s = dkms_var(vars, "STRIP", i);

	if (s && (*s == 'n' || *s == 'N'))
		return 0;
	if (s && (*s == 'y' || *s == 'Y'))
		return 1;
	return first;
}

static int ends_in_object(const char *name)
{
	size_t n = strlen(name);

	return (n >= 2 && !strcmp(name + n - 2, ".o")) || (n >= 3 && !strcmp(name + n - 3, ".ko"));
}

static int check_dest_location(const char *loc, long i)
{
	if (!nonempty(loc))
		return err_set(
		    -KLD_E_CONFIG,
		    "dkms.conf: No 'DEST_MODULE_LOCATION' directive specified for record #%ld", i);
	if (strncmp(loc, "/kernel", 7) && strncmp(loc, "/updates", 8) && strncmp(loc, "/extra", 6))
		return err_set(-KLD_E_CONFIG,
		               "dkms.conf: DEST_MODULE_LOCATION '%s' does not begin with /kernel, "
		               "/updates or /extra in record #%ld",
		               loc, i);
	return 0;
}

static int resolve_module(const struct dkms_vars *vars, long i, long n, struct dkms_module *m)
{
	const char *built = dkms_var(vars, "BUILT_MODULE_NAME", i);
	const char *loc = dkms_var(vars, "BUILT_MODULE_LOCATION", i);
	const char *dest = dkms_var(vars, "DEST_MODULE_NAME", i);
	const char *dloc = dkms_var(vars, "DEST_MODULE_LOCATION", i);
	size_t ln;

	if (!nonempty(built) && n == 1)
		built = dkms_var(vars, "PACKAGE_NAME", 0);
	if (!nonempty(built))
		return err_set(
		    -KLD_E_CONFIG,
		    "dkms.conf: No 'BUILT_MODULE_NAME' directive specified for record #%ld", i);
	if (ends_in_object(built) || (nonempty(dest) && ends_in_object(dest)))
		return err_set(-KLD_E_CONFIG,
		               "dkms.conf: module name '%s' ends in '.o' or '.ko' in record #%ld",
		               nonempty(dest) && ends_in_object(dest) ? dest : built, i);
	m->built_name = xstrdup(built);
	m->dest_name = xstrdup(nonempty(dest) ? dest : built);
	ln = loc ? strlen(loc) : 0;
	m->built_location = ln && loc[ln - 1] != '/' ? xasprintf("%s/", loc) : xstrdup(loc);
	m->dest_location = xstrdup(dloc);
	m->strip = strip_value(vars, i, strip_value(vars, 0, 1));
	return check_dest_location(dloc, i);
}

static int check_duplicates(const struct dkms_conf *c)
{
	for (size_t i = 0; i < c->n_modules; i++)
		for (size_t j = 0; j < i; j++) {
			const struct dkms_module *a = &c->modules[i], *b = &c->modules[j];

			if (!strcmp(a->built_location, b->built_location) &&
			    !strcmp(a->built_name, b->built_name))
				return err_set(
				    -KLD_E_CONFIG,
				    "dkms.conf: Duplicate module '%s%s' in 'BUILT_MODULE_NAME[%zu]'",
				    a->built_location, a->built_name, i);
			if (!strcmp(a->dest_name, b->dest_name))
				return err_set(
				    -KLD_E_CONFIG,
				    "dkms.conf: Duplicate module '%s' in 'DEST_MODULE_NAME[%zu]'",
				    a->dest_name, i);
		}
	return 0;
}

static int resolve_modules(const struct dkms_vars *vars, struct dkms_conf *c)
{
	static const char *const arrays[] = {"BUILT_MODULE_NAME", "BUILT_MODULE_LOCATION",
	                                     "DEST_MODULE_NAME", "DEST_MODULE_LOCATION"};
	long n = 0;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(arrays); i++)
		if (dkms_var_count(vars, arrays[i]) > n)
			n = dkms_var_count(vars, arrays[i]);
	c->modules = xcalloc((size_t)n + 1, sizeof(*c->modules));
	for (long i = 0; i < n; i++) {
		c->n_modules++;
		if ((r = resolve_module(vars, i, n, &c->modules[i])) < 0)
			return r;
	}
	return check_duplicates(c);
}

/* MAKE[] with MAKE_MATCH[]: the last matching entry wins; MAKE[0] when MAKE_MATCH[0] is empty. */
static int resolve_make(const struct dkms_vars *vars, const struct dkms_env *env,
                        struct dkms_conf *c)
{
	const char *chosen =
	    nonempty(dkms_var(vars, "MAKE_MATCH", 0)) ? NULL : dkms_var(vars, "MAKE", 0);
	long n = dkms_var_count(vars, "MAKE");

	for (long i = 0; i < n; i++) {
		const char *make = dkms_var(vars, "MAKE", i);
		const char *match = dkms_var(vars, "MAKE_MATCH", i);
		int m;

		if (!nonempty(make) || !nonempty(match))
			continue;
		if ((m = ere_match(match, env->kernelver)) < 0)
			return m;
		if (m)
			chosen = make;
	}
	if (nonempty(chosen))
		c->make = xstrdup(chosen);
	else
		c->make = xasprintf("make -C %s M=%s/%s/%s/build", env->kernel_source_dir,
		                    env->dkms_tree, env->module, env->module_version);
	return 0;
}

static int resolve_patches(const struct dkms_vars *vars, const char *kernelver, struct dkms_conf *c)
{
	long n = dkms_var_count(vars, "PATCH");

	c->patches = xcalloc((size_t)n + 1, sizeof(char *));
	for (long i = 0; i < n; i++) {
		const char *p = dkms_var(vars, "PATCH", i);
		const char *match = dkms_var(vars, "PATCH_MATCH", i);
		int m = 1;

		if (!nonempty(p))
			continue;
		if (nonempty(match) && (m = ere_match(match, kernelver)) < 0)
			return m;
		if (m)
			c->patches[c->n_patches++] = xstrdup(p);
	}
	return 0;
}

static int yes_no(const struct dkms_vars *vars, const char *name, int *out)
{
	const char *v = dkms_var(vars, name, 0);

	*out = 0;
	if (!nonempty(v))
		return 0;
	if (!strcasecmp(v, "yes")) {
		*out = 1;
		return 0;
	}
	if (!strcasecmp(v, "no"))
		return 0;
	return err_set(-KLD_E_CONFIG, "dkms.conf: Unsupported %s value '%s'", name, v);
}

static char *join_array(const struct dkms_vars *vars, const char *name)
{
	long n = dkms_var_count(vars, name);
	char *out = NULL;

	for (long i = 0; i < n; i++) {
		const char *v = dkms_var(vars, name, i);
		char *next;

		if (!nonempty(v))
			continue;
		next = out ? xasprintf("%s %s", out, v) : xstrdup(v);
		free(out);
		out = next;
	}
	return out;
}

static void resolve_scalars(const struct dkms_vars *vars, struct dkms_conf *c)
{
	c->package_name = dup_or_null(dkms_var(vars, "PACKAGE_NAME", 0));
	c->package_version = dup_or_null(dkms_var(vars, "PACKAGE_VERSION", 0));
	c->clean = dup_or_null(dkms_var(vars, "CLEAN", 0));
	c->pre_build = dup_or_null(dkms_var(vars, "PRE_BUILD", 0));
	c->post_build = dup_or_null(dkms_var(vars, "POST_BUILD", 0));
	c->exclusive_kernel = dup_or_null(dkms_var(vars, "BUILD_EXCLUSIVE_KERNEL", 0));
	c->exclusive_kernel_min = dup_or_null(dkms_var(vars, "BUILD_EXCLUSIVE_KERNEL_MIN", 0));
	c->exclusive_kernel_max = dup_or_null(dkms_var(vars, "BUILD_EXCLUSIVE_KERNEL_MAX", 0));
	if (!c->exclusive_kernel_max)
		c->exclusive_kernel_max = dup_or_null(dkms_var(vars, "OBSOLETE_BY", 0));
	c->exclusive_arch = dup_or_null(dkms_var(vars, "BUILD_EXCLUSIVE_ARCH", 0));
	c->exclusive_config = dup_or_null(dkms_var(vars, "BUILD_EXCLUSIVE_CONFIG", 0));
	c->build_depends = join_array(vars, "BUILD_DEPENDS");
}

static int resolve_checked(const struct dkms_vars *vars, const struct dkms_env *env,
                           struct dkms_conf *c)
{
	int r, dummy;

	if (!c->package_name)
		return err_set(-KLD_E_CONFIG, "dkms.conf: No 'PACKAGE_NAME' directive specified");
	if (!c->package_version)
		return err_set(-KLD_E_CONFIG,
		               "dkms.conf: No 'PACKAGE_VERSION' directive specified");
	if ((r = resolve_modules(vars, c)) < 0 || (r = resolve_make(vars, env, c)) < 0 ||
	    (r = resolve_patches(vars, env->kernelver, c)) < 0)
		return r;
	if ((r = yes_no(vars, "AUTOINSTALL", &c->autoinstall)) < 0 ||
	    (r = yes_no(vars, "NO_WEAK_MODULES", &dummy)) < 0)
		return r;
	return yes_no(vars, "BUILD_DEPENDS_REBUILD", &dummy);
}

int dkms_conf_resolve(const struct dkms_vars *vars, const struct dkms_env *env,
                      struct dkms_conf *conf)
{
	struct dkms_conf c = {0};
	int r;

	resolve_scalars(vars, &c);
	r = resolve_checked(vars, env, &c);
	if (r < 0) {
		dkms_conf_release(&c);
		return r;
	}
	*conf = c;
	return 0;
}

void dkms_conf_release(struct dkms_conf *c)
{
	free(c->package_name);
	free(c->package_version);
	free(c->make);
	free(c->clean);
	free(c->pre_build);
	free(c->post_build);
	for (size_t i = 0; i < c->n_patches; i++)
		free(c->patches[i]);
	free(c->patches);
	free(c->exclusive_kernel);
	free(c->exclusive_kernel_min);
	free(c->exclusive_kernel_max);
	free(c->exclusive_arch);
	free(c->exclusive_config);
	free(c->build_depends);
	for (size_t i = 0; i < c->n_modules; i++) {
		free(c->modules[i].built_name);
		free(c->modules[i].built_location);
		free(c->modules[i].dest_name);
		free(c->modules[i].dest_location);
	}
	free(c->modules);
	memset(c, 0, sizeof(*c));
}

/* ---- BUILD_EXCLUSIVE_* ---- */

/* dkms's VER(): every run of digits padded to at least three, the rest kept. */
static char *ver_key(const char *v)
{
	size_t n = strlen(v);
	char *out = xcalloc(n * 3 + 1, 1), *o = out;

	while (*v) {
		size_t d = strspn(v, "0123456789");

		if (d) {
			for (size_t k = d; k < 3; k++)
				*o++ = '0';
			memcpy(o, v, d);
			o += d;
			v += d;
		} else {
			*o++ = *v++;
		}
	}
	return out;
}

int dkms_vercmp(const char *a, const char *b)
{
	_cleanup_free_ char *ka = ver_key(a);
	_cleanup_free_ char *kb = ver_key(b);
	int r = strcmp(ka, kb);

	return r < 0 ? -1 : r > 0;
}

/* Does the .config text set `symbol` to y or m? */
static int config_set(const char *kconfig, const char *symbol)
{
	_cleanup_free_ char *y = xasprintf("%s=y", symbol);
	_cleanup_free_ char *m = xasprintf("%s=m", symbol);

	for (const char *l = kconfig; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, y, strlen(y)) || !strncmp(l, m, strlen(m)))
			return 1;
	return 0;
}

static int config_excluded(const char *list, const char *kconfig, char **why)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;

	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		int negate = w[0] == '!';
		const char *sym = w + negate;

		if (config_set(kconfig, sym) == !negate)
			continue;
		*why = xasprintf("BUILD_EXCLUSIVE_CONFIG: the kernel %s %s",
		                 negate ? "sets" : "lacks", sym);
		return 1;
	}
	return 0;
}

int dkms_excluded(const struct dkms_conf *c, const char *kernelver, const char *arch,
                  const char *kconfig, char **why)
{
	int m;

	if (c->exclusive_kernel) {
		if ((m = ere_match(c->exclusive_kernel, kernelver)) < 0)
			return m;
		if (!m) {
			*why = xasprintf("BUILD_EXCLUSIVE_KERNEL '%s' does not match kernel %s",
			                 c->exclusive_kernel, kernelver);
			return 1;
		}
	}
	if (c->exclusive_kernel_min && dkms_vercmp(kernelver, c->exclusive_kernel_min) < 0) {
		*why = xasprintf("kernel %s is older than BUILD_EXCLUSIVE_KERNEL_MIN %s", kernelver,
		                 c->exclusive_kernel_min);
		return 1;
	}
	if (c->exclusive_kernel_max && dkms_vercmp(kernelver, c->exclusive_kernel_max) > 0) {
		*why = xasprintf("kernel %s is newer than BUILD_EXCLUSIVE_KERNEL_MAX %s", kernelver,
		                 c->exclusive_kernel_max);
		return 1;
	}
	if (c->exclusive_arch) {
		if ((m = ere_match(c->exclusive_arch, arch)) < 0)
			return m;
		if (!m) {
			*why = xasprintf("BUILD_EXCLUSIVE_ARCH '%s' does not match %s",
			                 c->exclusive_arch, arch);
			return 1;
		}
	}
	if (c->exclusive_config && kconfig)
		return config_excluded(c->exclusive_config, kconfig, why);
	return 0;
}

/* ---- environments ---- */

static void strv_push(char ***v, size_t *n, char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));

	if (!nv)
		abort();
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
}

char **dkms_env_strv(const struct dkms_env *e)
{
	char **v = NULL;
	size_t n = 0;

	strv_push(&v, &n, xasprintf("kernelver=%s", e->kernelver));
	strv_push(&v, &n, xasprintf("arch=%s", e->arch));
	strv_push(&v, &n, xasprintf("kernel_source_dir=%s", e->kernel_source_dir));
	strv_push(&v, &n, xasprintf("dkms_tree=%s", e->dkms_tree));
	strv_push(&v, &n, xasprintf("source_tree=%s", e->source_tree));
	strv_push(&v, &n, xasprintf("install_tree=%s", e->install_tree));
	strv_push(&v, &n, xasprintf("module=%s", e->module ? e->module : ""));
	strv_push(&v, &n,
	          xasprintf("module_version=%s", e->module_version ? e->module_version : ""));
	strv_push(&v, &n, xasprintf("kernel_config=%s", e->kernel_config ? e->kernel_config : ""));
	if (e->parallel_jobs)
		strv_push(&v, &n, xasprintf("parallel_jobs=%s", e->parallel_jobs));
	return v;
}

/*
 * The build, as dkms's do_build() runs it. Inputs in the environment (see dkms_build_strv()).
 * Exit codes follow dkms: 5 bad patch, 6 patch failed, 7 module missing, 10 make failed.
 */
static const char build_script[] =
    "build_dir=$PWD\n"
    "base_dir=$dkms_tree/$module/$module_version/$kernelver/$arch\n"
    "echo \"kldload: building $module/$module_version for kernel $kernelver ($arch)\"\n"
    "if [ -f \"$kernel_source_dir/.kernelvariables\" ]; then\n"
    "  CC=$(printf 'show-%%:\\n\\t@echo $($*)\\ninclude %s/.kernelvariables\\n' \\\n"
    "       \"$kernel_source_dir\" | make -s -f - show-CC)\n"
    "  export CC\n"
    "else\n"
    "  unset CC\n"
    "fi\n"
    "if [ -e \"$kernel_config\" ]; then\n"
    "  cc=$(sed -n 's|^CONFIG_CC_VERSION_TEXT=\"*\\([^\" ]*\\) .*|\\1|p' \"$kernel_config\")\n"
    "  if [ -n \"$cc\" ] && command -v \"$cc\" >/dev/null; then\n"
    "    CC=$cc; KERNEL_CC=$cc; export CC KERNEL_CC\n"
    "  fi\n"
    "  if grep -q '^CONFIG_CC_IS_CLANG=y' \"$kernel_config\"; then\n"
    "    KLD_MAKE=\"$KLD_MAKE LLVM=1\"\n"
    "  fi\n"
    "fi\n"
    "echo \"kldload: CC=${CC:-}\"\n"
    "while IFS= read -r p; do\n"
    "  [ -n \"$p\" ] || continue\n"
    "  case \"patches/$p\" in */../*) echo \"Patch $p contains a '..' path component.\"; exit 5;; esac\n"
    "  [ -e \"$build_dir/patches/$p\" ] || { echo \"Patch $p cannot be found in $build_dir/patches/.\"; exit 5; }\n"
    "  echo \"kldload: applying patch $p\"\n"
    "  patch -p1 < \"./patches/$p\" || { echo \"Application of patch $p failed.\"; exit 6; }\n"
    "done <<EOF\n"
    "$KLD_PATCHES\n"
    "EOF\n"
    "run_script() {\n"
    "  [ -n \"$2\" ] || return 0\n"
    "  run=\"$build_dir/$2\"\n"
    "  if [ -x \"${run%% *}\" ]; then\n"
    "    echo \"kldload: running the $1 script: $2\"\n"
    "    ( cd \"$build_dir\" && eval \"$run\" ) || { echo \"The $1 script failed.\"; exit 11; }\n"
    "  else\n"
    "    echo \"Warning: The $1 script is not executable.\"\n"
    "  fi\n"
    "}\n"
    "run_script pre_build \"$KLD_PRE_BUILD\"\n"
    "make_command=\"${KLD_MAKE/#make/make -j$KLD_JOBS KERNELRELEASE=$kernelver}\"\n"
    "echo \"kldload: $make_command\"\n"
    "( eval \"$make_command\" ) || { echo \"Bad return status for module build on kernel: $kernelver ($arch)\"; exit 10; }\n"
    "mkdir -p \"$base_dir/module\" || exit 7\n"
    "i=0\n"
    "while [ $i -lt \"$KLD_N_MODULES\" ]; do\n"
    "  eval \"loc=\\$KLD_LOC_$i name=\\$KLD_NAME_$i dest=\\$KLD_DEST_$i strip=\\$KLD_STRIP_$i\"\n"
    "  built=$build_dir/$loc$name.ko\n"
    "  [ -e \"$built\" ] || { echo \"Build of $loc$name.ko failed for: $kernelver ($arch)\"; exit 7; }\n"
    "  if [ \"$strip\" != no ]; then strip -g \"$built\" || exit 7; fi\n"
    "  cp -f \"$built\" \"$base_dir/module/$dest.ko\" || exit 7\n"
    "  i=$((i + 1))\n"
    "done\n"
    "run_script post_build \"$KLD_POST_BUILD\"\n"
    "exit 0\n";

const char *dkms_build_script(void)
{
	return build_script;
}

char **dkms_build_strv(const struct dkms_conf *c, const struct dkms_env *e, int jobs)
{
	char **v = dkms_env_strv(e);
	size_t n = 0;
	char *patches = xstrdup("");

	while (v[n])
		n++;
	for (size_t i = 0; i < c->n_patches; i++) {
		char *next = xasprintf("%s%s\n", patches, c->patches[i]);

		free(patches);
		patches = next;
	}
	strv_push(&v, &n, xasprintf("KLD_PATCHES=%s", patches));
	free(patches);
	strv_push(&v, &n, xasprintf("KLD_PRE_BUILD=%s", c->pre_build ? c->pre_build : ""));
	strv_push(&v, &n, xasprintf("KLD_POST_BUILD=%s", c->post_build ? c->post_build : ""));
	strv_push(&v, &n, xasprintf("KLD_MAKE=%s", c->make));
	strv_push(&v, &n, xasprintf("KLD_JOBS=%d", jobs > 0 ? jobs : 1));
	strv_push(&v, &n, xasprintf("KLD_N_MODULES=%zu", c->n_modules));
	for (size_t i = 0; i < c->n_modules; i++) {
		const struct dkms_module *m = &c->modules[i];

		strv_push(&v, &n, xasprintf("KLD_LOC_%zu=%s", i, m->built_location));
		strv_push(&v, &n, xasprintf("KLD_NAME_%zu=%s", i, m->built_name));
		strv_push(&v, &n, xasprintf("KLD_DEST_%zu=%s", i, m->dest_name));
		strv_push(&v, &n, xasprintf("KLD_STRIP_%zu=%s", i, m->strip ? "yes" : "no"));
	}
	return v;
}

/* ---- evaluation with the host's bash (tests, tools) ---- */

int dkms_eval_host(const char *conf_path, const struct dkms_env *env, struct dkms_vars *vars)
{
	char tmpl[] = "/tmp/kldload-dkms-XXXXXX";
	int fd = mkstemp(tmpl), status;
	_cleanup_free_ char *data = NULL;
	size_t len;
	pid_t pid;
	int r;

	if (fd < 0)
		return err_set(-errno, "mkstemp: %s", strerror(errno));
	close(fd);
	pid = fork();
	if (pid == 0) {
		char **e = dkms_env_strv(env);
		const char *argv[] = {"bash",    "-c", eval_script, "dkms-eval",
		                      conf_path, tmpl, NULL};

		execve("/bin/bash", (char *const *)argv, e);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		unlink(tmpl);
		return err_set(-errno, "cannot run bash: %s", strerror(errno));
	}
	r = WIFEXITED(status) && WEXITSTATUS(status) == 0
	        ? read_file(tmpl, &data, &len)
	        : err_set(-KLD_E_CONFIG, "%s: evaluation failed", conf_path);
	unlink(tmpl);
	if (r < 0)
		return r;
	return dkms_vars_parse(data, len, vars);
}
