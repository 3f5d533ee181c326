/* SPDX-License-Identifier: MIT */
/*
 * The plugin loader. A plugin is checked before anything of it is used: ELF header, dlopen with
 * RTLD_NOW | RTLD_LOCAL (unresolved symbols fail here), the one entry symbol, then the descriptor
 * (magic, ABI major and minor, size, kind, identity, ops table size). The descriptor and ops table
 * are copied into the core, zero-filled past what the plugin's sizes cover, so a plugin built
 * against an older minor simply lacks the newer members.
 */
#ifndef KLDLOAD_CORE_PLUGIN_H
#define KLDLOAD_CORE_PLUGIN_H

#include <stdint.h>
#include <kldload/kldload.h>
#include "ctx.h"

struct loaded_plugin {
	char *path;     /* the file */
	char *instance; /* name, or name:arg for a module given as NAME:ARG */
	char *arg;      /* the ARG of NAME:ARG, or NULL */
	void *handle;
	struct kld_plugin desc; /* copy, zero-filled past desc.size */
	union {
		struct kld_distro_ops distro;
		struct kld_module_ops module;
	} ops; /* copy, zero-filled past the plugin's ops size */
	struct kld_ctx ctx;
	int opened;
};

/* Load and check the plugin at `path`. want_kind: KLD_KIND_* or 0 for any. */
int plugin_load(const char *path, uint32_t want_kind, struct loaded_plugin **ret);
void plugin_free(struct loaded_plugin *p); /* closes it if opened; NULL-safe */
const char *plugin_kind_name(uint32_t kind);

/* Directories searched for plugins, in order (NULL-terminated, malloc'd). */
char **plugin_search_dirs(const char *plugin_path_option);

/*
 * Find `spec` (a name, or a path when it contains '/') among `dirs`; the result is malloc'd.
 * -ENOENT with a message when not found.
 */
int plugin_find(char *const *dirs, const char *spec, char **ret_path);

/* Call the plugin's open(); errors carry the plugin's message. */
int plugin_open(struct loaded_plugin *p, struct runner *run);

/*
 * Every plugin file in `dirs` (first of a name wins; later ones are "shadowed"): calls `fn` for
 * each with the loaded plugin or NULL and the refusal message.
 */
typedef void (*plugin_visit_fn)(const char *path, const struct loaded_plugin *p, const char *error,
                                int shadowed, void *userdata);
void plugin_scan(char *const *dirs, plugin_visit_fn fn, void *userdata);

#endif
