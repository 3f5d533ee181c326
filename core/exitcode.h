/* SPDX-License-Identifier: MIT */
/* Exit codes of `kldload`, documented in --help and kldload(1). */
#ifndef KLDLOAD_CORE_EXITCODE_H
#define KLDLOAD_CORE_EXITCODE_H

#define EXIT_OK        0   /* success */
#define EXIT_FAIL      1   /* a stage failed */
#define EXIT_USAGE     2   /* bad command line or configuration */
#define EXIT_PLUGIN    3   /* a plugin could not be found or was refused */
#define EXIT_VERIFY    4   /* something did not verify (signature, hash, size) */
#define EXIT_UNSAT     5   /* the request cannot be satisfied */
#define EXIT_INTERRUPT 130 /* interrupted by SIGINT or SIGTERM */

#endif
