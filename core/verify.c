/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "log.h"
#include "verify.h"

#define LOG_CAT "verify"

extern char **environ;

/* ---- cleartext signature framework (RFC 4880, section 7) ---- */

static const char BEGIN_MSG[] = "-----BEGIN PGP SIGNED MESSAGE-----";
static const char BEGIN_SIG[] = "-----BEGIN PGP SIGNATURE-----";
static const char END_SIG[] = "-----END PGP SIGNATURE-----";

struct cursor {
	const char *p, *end;
};

/* Next line without its "\n" (and a "\r" before it); 0 at the end. */
static int next_line(struct cursor *c, const char **line, size_t *len)
{
	const char *nl;

	if (c->p >= c->end)
		return 0;
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	*line = c->p;
	*len = (size_t)((nl ? nl : c->end) - c->p);
	c->p = nl ? nl + 1 : c->end;
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	return 1;
}

static int line_is(const char *line, size_t len, const char *what)
{
	size_t n = strlen(what);

	while (len > n && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	return len == n && memcmp(line, what, n) == 0;
}

static int only_blank(struct cursor c)
{
	for (const char *p = c.p; p < c.end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return 0;
	return 1;
}

static int split_body(struct cursor *c, const char *name, char **text, size_t *text_len)
{
	char *out = xcalloc((size_t)(c->end - c->p) + 1, 1);
	size_t n = 0;
	const char *line;
	size_t len;
	int first = 1;

	while (next_line(c, &line, &len)) {
		if (line_is(line, len, BEGIN_SIG)) {
			out[n] = '\0';
			*text = out;
			*text_len = n;
			return 0;
		}
		if (len >= 2 && line[0] == '-' && line[1] == ' ') {
			line += 2;
			len -= 2;
		} else if (len && line[0] == '-') {
			break; /* an unescaped dash line inside the text: not a valid message */
		}
		if (!first)
			out[n++] = '\n';
		memcpy(out + n, line, len);
		n += len;
		first = 0;
	}
	free(out);
	return err_set(-KLD_E_VERIFY, "%s: malformed signed message (no signature block)", name);
}

int verify_split_cleartext(const char *data, size_t len, const char *name, char **text,
                           size_t *text_len, char **sig, size_t *sig_len)
{
	struct cursor c = {data, data + len};
	_cleanup_free_ char *body = NULL;
	const char *line, *sig_start;
	size_t n, body_len = 0;
	int ret;

	if (!next_line(&c, &line, &n) || !line_is(line, n, BEGIN_MSG))
		return err_set(-KLD_E_VERIFY, "%s: not an OpenPGP signed message", name);
	while (next_line(&c, &line, &n) && n) /* armor headers ("Hash: SHA256") */
		if (!memchr(line, ':', n))
			return err_set(-KLD_E_VERIFY, "%s: malformed armor header", name);
	ret = split_body(&c, name, &body, &body_len);
	if (ret < 0)
		return ret;
	sig_start = c.p;
	while (next_line(&c, &line, &n) && !line_is(line, n, END_SIG))
		if (line_is(line, n, BEGIN_MSG) || line_is(line, n, BEGIN_SIG))
			return err_set(-KLD_E_VERIFY, "%s: nested signature block", name);
	if (!line_is(line, n, END_SIG) || !only_blank(c))
		return err_set(-KLD_E_VERIFY, "%s: data outside the signed message", name);
	*sig = xasprintf("%s\n%.*s%s\n", BEGIN_SIG, (int)(line - sig_start), sig_start, END_SIG);
	*sig_len = strlen(*sig);
	*text = TAKE_PTR(body);
	*text_len = body_len;
	return 0;
}

/* ---- running the verifier ---- */

static int find_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = xstrdup(path ? path : "/usr/bin:/bin");
	char *save = NULL;

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = path_join(d, prog);

		if (access(p, X_OK) == 0)
			return 1;
	}
	return 0;
}

static const char *pick_verifier(const char *want)
{
	if (want && strcmp(want, "auto") != 0 && want[0])
		return want;
	return find_in_path("sqv") ? "sqv" : "gpgv";
}

/* Run argv, collecting stdout+stderr (first 4 KiB). Returns the exit status or negative. */
static int run_capture(char *const argv[], char *out, size_t out_size)
{
	posix_spawn_file_actions_t fa;
	int pfd[2], status = 0;
	size_t n = 0;
	ssize_t r;
	pid_t pid;
	int ret;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	ret = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (ret != 0) {
		close(pfd[0]);
		return -ret;
	}
	while ((r = read(pfd[0], out + n, out_size - 1 - n)) > 0 || (r < 0 && errno == EINTR))
		if (r > 0 && (n += (size_t)r) >= out_size - 1)
			break;
	out[n] = '\0';
	while (read(pfd[0], (char[256]){0}, 256) > 0)
		;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The verifier's most telling line, for the one-line error. */
static const char *summary_line(char *out)
{
	static const char *const telling[] = {
	    "manipulated", "BAD", "Missing key", "No public key", "expired", "revoked", "rror"};
	char *best = NULL, *save = NULL;
	size_t best_rank = ARRAY_SIZE(telling) + 1;

	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t rank = ARRAY_SIZE(telling);

		while (*l == ' ' || *l == '\t')
			l++;
		for (size_t i = 0; i < ARRAY_SIZE(telling); i++)
			if (strstr(l, telling[i]) && i < rank)
				rank = i;
		if (*l && rank < best_rank) {
			best = l;
			best_rank = rank;
		}
	}
	return best ? best : "(no output)";
}

static int run_verifier(const char *verifier, const char *const *keyrings, const char *sig,
                        const char *data, const char *name)
{
	const char *argv[64];
	char out[4096];
	size_t a = 0;
	int st;

	argv[a++] = verifier;
	if (strcmp(verifier, "gpgv") == 0)
		argv[a++] = "--quiet";
	for (size_t i = 0; keyrings[i] && a < 58; i++) {
		argv[a++] = "--keyring";
		argv[a++] = keyrings[i];
	}
	argv[a++] = sig;
	argv[a++] = data;
	argv[a] = NULL;
	st = run_capture((char *const *)argv, out, sizeof(out));
	if (st < 0)
		return err_set(-KLD_E_CONFIG, "cannot run the OpenPGP verifier %s: %s", verifier,
		               strerror(-st));
	if (st == 0) {
		log_debug(LOG_CAT, "%s: good signature (%s)", name, verifier);
		return 0;
	}
	return err_set(-KLD_E_VERIFY, "%s: no good signature by a key in %s (%s: %s)", name,
	               keyrings[0], verifier, summary_line(out));
}

static int check_keyrings(const char *const *keyrings)
{
	if (!keyrings || !keyrings[0])
		return err_set(-KLD_E_CONFIG, "no OpenPGP keyring given to check signatures");
	for (size_t i = 0; keyrings[i]; i++)
		if (keyrings[i][0] != '/' || access(keyrings[i], R_OK) < 0)
			return err_set(-KLD_E_CONFIG, "keyring %s: not a readable absolute path",
			               keyrings[i]);
	return 0;
}

int verify_signed_file(const char *signed_path, const char *const *keyrings, const char *verifier,
                       char **text, size_t *text_len)
{
	_cleanup_free_ char *data = NULL, *body = NULL, *sig = NULL;
	_cleanup_free_ char *sig_path = NULL, *body_path = NULL;
	char tmpl[] = "/tmp/kldload-verify-XXXXXX";
	size_t len = 0, body_len = 0, sig_len = 0;
	int ret;

	ret = check_keyrings(keyrings);
	if (ret < 0)
		return ret;
	ret = read_file(signed_path, &data, &len);
	if (ret < 0)
		return ret;
	ret = verify_split_cleartext(data, len, signed_path, &body, &body_len, &sig, &sig_len);
	if (ret < 0)
		return ret;
	if (!mkdtemp(tmpl))
		return err_set(-errno, "cannot create a temporary directory: %s", strerror(errno));
	sig_path = path_join(tmpl, "Release.gpg");
	body_path = path_join(tmpl, "Release");
	ret = write_file_atomic(sig_path, sig, sig_len, 0600);
	if (ret == 0)
		ret = write_file_atomic(body_path, body, body_len, 0600);
	if (ret == 0)
		ret = run_verifier(pick_verifier(verifier), keyrings, sig_path, body_path,
		                   signed_path);
	unlink(sig_path);
	unlink(body_path);
	rmdir(tmpl);
	if (ret < 0)
		return ret;
	*text = TAKE_PTR(body);
	*text_len = body_len;
	return 0;
}

int verify_detached_file(const char *data_path, const char *sig_path, const char *const *keyrings,
                         const char *verifier)
{
	int ret = check_keyrings(keyrings);

	if (ret < 0)
		return ret;
	return run_verifier(pick_verifier(verifier), keyrings, sig_path, data_path, sig_path);
}

/* ---- Release files ---- */

time_t release_parse_date(const char *s)
{
	struct tm tm = {0};
	const char *rest;

	if (!s)
		return -1;
	rest = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
	if (!rest)
		rest = strptime(s, "%d %b %Y %H:%M:%S", &tm);
	if (!rest)
		return -1;
	while (*rest == ' ')
		rest++;
	if (*rest && strcmp(rest, "UTC") != 0 && strcmp(rest, "GMT") != 0 && strcmp(rest, "Z") &&
	    strcmp(rest, "+0000") != 0)
		return -1; /* Debian archives always write UTC */
	return timegm(&tm);
}

static char **split_words(const char *s)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char **v = xcalloc(strlen(s) / 2 + 2, sizeof(char *));
	char *save = NULL;
	size_t n = 0;

	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		v[n++] = xstrdup(w);
	return v;
}

static int add_sha256_line(struct release *rel, const char *line, const char *name)
{
	char hash[80], path[4096];
	long long size;
	struct release_file *f;

	if (sscanf(line, " %79s %lld %4095s", hash, &size, path) != 3 || strlen(hash) != 64 ||
	    size < 0)
		return err_set(-KLD_E_VERIFY, "%s: malformed SHA256 line: %.80s", name, line);
	for (char *p = hash; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	if (rel->n_files % 64 == 0)
		rel->files = realloc(rel->files, (rel->n_files + 64) * sizeof(*rel->files));
	if (!rel->files)
		abort();
	f = &rel->files[rel->n_files++];
	f->path = xstrdup(path);
	f->size = size;
	memcpy(f->sha256, hash, SHA256_HEX_LEN);
	return 0;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static int release_field(struct release *rel, const char *key, const char *value, const char *name)
{
	if (!strcasecmp(key, "Origin"))
		set_str(&rel->origin, value);
	else if (!strcasecmp(key, "Label"))
		set_str(&rel->label, value);
	else if (!strcasecmp(key, "Suite"))
		set_str(&rel->suite, value);
	else if (!strcasecmp(key, "Codename"))
		set_str(&rel->codename, value);
	else if (!strcasecmp(key, "Version"))
		set_str(&rel->version, value);
	else if (!strcasecmp(key, "Acquire-By-Hash"))
		rel->acquire_by_hash = !strcasecmp(value, "yes");
	else if (!strcasecmp(key, "Components"))
		rel->components = split_words(value);
	else if (!strcasecmp(key, "Architectures"))
		rel->architectures = split_words(value);
	else if (!strcasecmp(key, "Date") || !strcasecmp(key, "Valid-Until")) {
		int until = !strcasecmp(key, "Valid-Until");
		time_t t = release_parse_date(value);

		if (t == (time_t)-1)
			return err_set(-KLD_E_VERIFY, "%s: unreadable %s: %s", name, key, value);
		set_str(until ? &rel->valid_until_str : &rel->date_str, value);
		*(until ? &rel->valid_until : &rel->date) = t;
	}
	return 0;
}

int release_parse(const char *text, const char *name, struct release *out)
{
	struct release rel = {0};
	_cleanup_free_ char *copy = xstrdup(text);
	char *save = NULL;
	int in_sha256 = 0, ret = 0;

	for (char *l = strtok_r(copy, "\n", &save); l && ret == 0;
	     l = strtok_r(NULL, "\n", &save)) {
		char *colon;

		if (l[0] == ' ' || l[0] == '\t') {
			if (in_sha256)
				ret = add_sha256_line(&rel, l, name);
			continue;
		}
		colon = strchr(l, ':');
		if (!colon) {
			ret = err_set(-KLD_E_VERIFY, "%s: malformed line: %.80s", name, l);
			break;
		}
		*colon = '\0';
		in_sha256 = !strcasecmp(l, "SHA256");
		for (colon++; *colon == ' ' || *colon == '\t'; colon++)
			;
		ret = release_field(&rel, l, colon, name);
	}
	if (ret == 0 && !rel.n_files)
		ret = err_set(-KLD_E_VERIFY, "%s: no SHA256 list (older hashes are not trusted)",
		              name);
	if (ret < 0) {
		release_clear(&rel);
		return ret;
	}
	*out = rel;
	return 0;
}

static void strv_clear(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void release_clear(struct release *rel)
{
	free(rel->origin);
	free(rel->label);
	free(rel->suite);
	free(rel->codename);
	free(rel->version);
	free(rel->date_str);
	free(rel->valid_until_str);
	strv_clear(rel->components);
	strv_clear(rel->architectures);
	for (size_t i = 0; i < rel->n_files; i++)
		free(rel->files[i].path);
	free(rel->files);
	*rel = (struct release){0};
}

int release_check(const struct release *rel, const char *name, time_t now, const char *want)
{
	if (rel->valid_until && now > rel->valid_until)
		return err_set(-KLD_E_VERIFY, "%s: expired on %s (Valid-Until)", name,
		               rel->valid_until_str);
	if (rel->date && rel->date > now + 600)
		return err_set(-KLD_E_VERIFY, "%s: dated %s, in the future", name, rel->date_str);
	if (want && !(rel->suite && !strcmp(rel->suite, want)) &&
	    !(rel->codename && !strcmp(rel->codename, want)))
		return err_set(-KLD_E_VERIFY, "%s: is for %s/%s, not %s", name,
		               rel->suite ? rel->suite : "?", rel->codename ? rel->codename : "?",
		               want);
	return 0;
}

const struct release_file *release_find(const struct release *rel, const char *path)
{
	for (size_t i = 0; i < rel->n_files; i++)
		if (strcmp(rel->files[i].path, path) == 0)
			return &rel->files[i];
	return NULL;
}

int verify_file(const char *path, int64_t size, const char *sha256, const char *name)
{
	char got[SHA256_HEX_LEN];
	struct stat st;
	int ret;

	if (stat(path, &st) < 0)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	if (size >= 0 && st.st_size != size)
		return err_set(-KLD_E_VERIFY, "%s: size %lld, expected %lld", name,
		               (long long)st.st_size, (long long)size);
	ret = sha256_file(path, got);
	if (ret < 0)
		return ret;
	if (strcasecmp(got, sha256) != 0)
		return err_set(-KLD_E_VERIFY, "%s: SHA-256 %s, expected %s", name, got, sha256);
	return 0;
}
