/* SPDX-License-Identifier: MIT */
/*
 * Plugins the loader must refuse, one per BAD_* definition given at build time. Each is built
 * without the SDK's version script where the defect needs it (no entry, unresolved symbol).
 */
#include <kldload/kldload.h>

static const struct kld_module_ops ops = {.size = sizeof(ops)};

#ifndef DESC_MAGIC
#define DESC_MAGIC KLD_PLUGIN_MAGIC
#endif
#ifndef DESC_MAJOR
#define DESC_MAJOR KLD_ABI_MAJOR
#endif
#ifndef DESC_MINOR
#define DESC_MINOR KLD_ABI_MINOR
#endif
#ifndef DESC_KIND
#define DESC_KIND KLD_KIND_MODULE
#endif
#ifndef DESC_NAME
#define DESC_NAME "bad"
#endif

static const struct kld_plugin desc __attribute__((unused)) = {
    .magic = DESC_MAGIC,
    .abi_major = DESC_MAJOR,
    .abi_minor = DESC_MINOR,
    .size = sizeof(struct kld_plugin),
    .kind = DESC_KIND,
    .name = DESC_NAME,
    .version = "0",
    .license = "MIT",
    .origin = "kldload tests",
    .ops = &ops,
};

#ifdef BAD_UNRESOLVED
void kldload_test_symbol_that_does_not_exist(void);
#endif

#ifdef BAD_NO_ENTRY
KLD_EXPORT const struct kld_plugin *some_other_entry(void);
KLD_EXPORT const struct kld_plugin *some_other_entry(void)
{
	return &desc;
}
#else
KLD_EXPORT const struct kld_plugin *kldload_plugin_entry(void);
KLD_EXPORT const struct kld_plugin *kldload_plugin_entry(void)
{
#ifdef BAD_UNRESOLVED
	kldload_test_symbol_that_does_not_exist();
#endif
#ifdef BAD_NULL
	return 0;
#else
	return &desc;
#endif
}
#endif
