/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define MAX_RULES 32

struct log_rule {
	char category[48];
	uint32_t level;
};

static uint32_t default_level = KLD_LOG_WARN;
static struct log_rule rules[MAX_RULES];
static size_t n_rules;
static int progress_active;

static int level_by_name(const char *s, uint32_t *level)
{
	static const char *const names[] = {"error", "warn", "info", "debug", "trace"};

	for (uint32_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	return -EINVAL;
}

static void parse_spec(const char *spec)
{
	char buf[512];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		char *eq = strchr(tok, '=');
		uint32_t level;

		if (!eq) {
			if (level_by_name(tok, &level) == 0)
				default_level = level;
			else
				fprintf(stderr,
				        "kldload: warning: KLDLOAD_LOG: unknown level '%s'\n", tok);
			continue;
		}
		*eq = '\0';
		if (level_by_name(eq + 1, &level) < 0 || n_rules == MAX_RULES) {
			fprintf(stderr, "kldload: warning: KLDLOAD_LOG: ignoring '%s=%s'\n", tok,
			        eq + 1);
			continue;
		}
		snprintf(rules[n_rules].category, sizeof(rules[n_rules].category), "%s", tok);
		rules[n_rules++].level = level;
	}
}

void log_setup(int verbosity, const char *spec)
{
	n_rules = 0;
	default_level = KLD_LOG_WARN;
	if (spec && *spec)
		parse_spec(spec);
	/* The command line wins over the environment's default level. */
	if (verbosity < 0)
		default_level = KLD_LOG_ERROR;
	else if (verbosity > 0)
		default_level = KLD_LOG_WARN + (uint32_t)(verbosity > 3 ? 3 : verbosity);
}

int log_enabled(const char *category, uint32_t level)
{
	for (size_t i = 0; i < n_rules; i++)
		if (category && strcmp(rules[i].category, category) == 0)
			return level <= rules[i].level;
	return level <= default_level;
}

static void progress_clear(void)
{
	if (progress_active) {
		fputs("\r\033[K", stderr);
		progress_active = 0;
	}
}

void log_msgv(const char *category, uint32_t level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {"error: ", "warning: ", "", "debug: ", "trace: "};

	if (!log_enabled(category, level))
		return;
	progress_clear();
	flockfile(stderr);
	fprintf(stderr, "kldload: %s%s%s", category ? category : "", category ? ": " : "",
	        prefix[level < ARRAY_SIZE(prefix) ? level : 4]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void log_msg(const char *category, uint32_t level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_msgv(category, level, fmt, ap);
	va_end(ap);
}

static int progress_wanted(void)
{
	static int tty = -1;

	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	return tty && default_level >= KLD_LOG_WARN;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void progress_show(const char *what, uint64_t done, uint64_t total)
{
	static uint64_t last;
	uint64_t t;

	if (!progress_wanted())
		return;
	t = now_ms();
	if (done != total && t - last < 100)
		return;
	last = t;
	flockfile(stderr);
	if (total)
		fprintf(stderr, "\r\033[K%s: %llu/%llu (%u%%)", what, (unsigned long long)done,
		        (unsigned long long)total, (unsigned)(done * 100 / total));
	else
		fprintf(stderr, "\r\033[K%s: %llu", what, (unsigned long long)done);
	progress_active = 1;
	if (total && done >= total) {
		fputc('\n', stderr);
		progress_active = 0;
	}
	funlockfile(stderr);
}
