// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel module that the template recipe builds: it says hello when loaded. Stands in for
 * your own driver's source.
 */
#include <linux/init.h>
#include <linux/module.h>

static int __init acme_init(void)
{
	pr_info("acme: loaded, built by a kldload recipe\n");
	return 0;
}

static void __exit acme_exit(void)
{
	pr_info("acme: unloaded\n");
}

module_init(acme_init);
module_exit(acme_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kldload SDK template module");
MODULE_VERSION("1.0");
