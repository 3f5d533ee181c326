/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "download.h"
#include "log.h"
#include "util.h"

#define LOG_CAT "fetch"

/* One transfer in flight. */
struct slot {
	CURL *easy;
	size_t idx;      /* item index */
	int fd;          /* the locked ".part" file */
	int64_t resume;  /* bytes already there when this attempt started */
	int64_t written; /* bytes written by this attempt */
	int checked;     /* the response code was looked at (first write) */
	EVP_MD_CTX *md;  /* SHA-256 of the whole file, updated as bytes arrive */
	char errbuf[CURL_ERROR_SIZE];
};

/* Per-item scheduling state. */
struct job {
	int attempts;       /* attempts made */
	int restarted;      /* a bad resumed file was discarded once */
	int busy;           /* another process holds the ".part" lock: wait at the end */
	int64_t not_before; /* monotonic ms before which the next attempt must not start */
	int done;
};

struct run {
	struct dl_item *items;
	struct job *jobs;
	size_t n;
	const struct dl_opts *opts;
	CURLM *multi;
	struct slot *slots;
	int n_slots;
	uint64_t done_bytes, total_bytes;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dl_opts_init(struct dl_opts *opts)
{
	*opts = (struct dl_opts){
	    .jobs = 4,
	    .retries = 4,
	    .connect_timeout = 15,
	    .stall_timeout = 30,
	    .backoff_ms = 500,
	    .what = "downloading",
	};
}

void dl_items_clear(struct dl_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].error);
		items[i].error = NULL;
	}
}

char *dl_url_origin(const char *url)
{
	const char *p = strstr(url, "://");
	const char *end;

	if (!p)
		return xstrdup(url);
	end = strchr(p + 3, '/');
	return end ? strndup(url, (size_t)(end - url)) : xstrdup(url);
}

static void item_fail(struct dl_item *it, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void item_fail(struct dl_item *it, int code, const char *fmt, ...)
{
	va_list ap;

	free(it->error);
	it->error = NULL;
	va_start(ap, fmt);
	if (vasprintf(&it->error, fmt, ap) < 0)
		it->error = NULL;
	va_end(ap);
	it->result = code;
}

static char *part_path(const struct dl_item *it)
{
	return xasprintf("%s.part", it->dest);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct slot *s = arg;
	size_t len = size * nmemb;
	const char *p = data;

	if (!s->checked) {
		long code = 0;

		s->checked = 1;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		if (s->resume > 0 && code == 200) {
			/* The server ignored the range: start the file over. */
			if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
				return 0;
			s->resume = 0;
			EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
		}
	}
	for (size_t left = len; left;) {
		ssize_t w = write(s->fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		p += w;
		left -= (size_t)w;
	}
	EVP_DigestUpdate(s->md, data, len);
	s->written += (int64_t)len;
	return len;
}

static void digest_hex(EVP_MD_CTX *md, char out[SHA256_HEX_LEN])
{
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex(md, bin, &n);
	for (unsigned int i = 0; i < n && i < 32; i++)
		sprintf(out + 2 * i, "%02x", bin[i]);
	out[64] = '\0';
}

/* Start the running hash with the bytes a partial file already holds. */
static int digest_existing(struct slot *s)
{
	char buf[1 << 16];
	int64_t left = s->resume;

	EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
	while (left > 0) {
		ssize_t r =
		    pread(s->fd, buf, left < (int64_t)sizeof(buf) ? (size_t)left : sizeof(buf),
		          s->resume - left);

		if (r <= 0)
			return -EIO;
		EVP_DigestUpdate(s->md, buf, (size_t)r);
		left -= r;
	}
	return 0;
}

/*
 * Open "<dest>.part" and lock it, making sure the locked file is still the one at that path:
 * another process may have renamed it into place between our open() and our flock().
 */
static int part_lock(struct dl_item *it, const char *part, int *fd_out, struct stat *st)
{
	for (int tries = 0; tries < 5; tries++) {
		struct stat now;
		int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0) {
			item_fail(it, -errno, "cannot create %s: %s", part, strerror(errno));
			return -errno;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			return 1;
		}
		if (fstat(fd, st) == 0 && stat(part, &now) == 0 && now.st_ino == st->st_ino &&
		    now.st_dev == st->st_dev) {
			if (it->sha256 && st->st_size == 0 && access(it->dest, F_OK) == 0) {
				unlink(part); /* made just now, after the other process finished */
				close(fd);
				return 2;
			}
			*fd_out = fd;
			return 0;
		}
		close(fd);
		if (it->sha256 && access(it->dest, F_OK) == 0)
			return 2; /* finished by the other process; the cache checks it */
	}
	item_fail(it, -EBUSY, "%s: cannot lock a stable partial file", part);
	return -EBUSY;
}

/* Open and lock "<dest>.part"; 1 when another process holds it, 2 when it finished it. */
static int part_open(struct dl_item *it, int *fd_out, int64_t *len_out)
{
	_cleanup_free_ char *part = part_path(it);
	struct stat st;
	int fd = -1;
	int ret = part_lock(it, part, &fd, &st);

	if (ret)
		return ret;
	if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_END) < 0) {
		item_fail(it, -errno, "cannot use %s: %s", part, strerror(errno));
		close(fd);
		return -EIO;
	}
	/* A partial file at least as long as the whole file cannot be resumed: start over. */
	if (it->size >= 0 && st.st_size >= it->size && st.st_size > 0) {
		if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
			close(fd);
			return -EIO;
		}
		st.st_size = 0;
	}
	*fd_out = fd;
	*len_out = st.st_size;
	return 0;
}

static void slot_setup(struct run *r, struct slot *s)
{
	const struct dl_item *it = &r->items[s->idx];
	CURL *e = s->easy;

	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, it->url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, r->opts->connect_timeout);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, r->opts->stall_timeout);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kldload/" KLDLOAD_VERSION);
	if (s->resume > 0)
		curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s->resume);
	if (it->size >= 0)
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)it->size);
	s->errbuf[0] = '\0';
	s->written = 0;
	s->checked = 0;
}

/*
 * Start item `idx` in a free slot. Returns 0, 1 when another process is on it, 2 when another
 * process finished it, or a negative code.
 */
static int slot_start(struct run *r, struct slot *s, size_t idx)
{
	struct dl_item *it = &r->items[idx];
	int fd = -1;
	int64_t have = 0;
	int ret = part_open(it, &fd, &have);

	if (ret)
		return ret;
	s->idx = idx;
	s->fd = fd;
	s->resume = have;
	if (digest_existing(s) < 0) {
		item_fail(it, -EIO, "cannot read the partial file of %s", it->url);
		close(fd);
		return -EIO;
	}
	r->jobs[idx].attempts++;
	slot_setup(r, s);
	if (have > 0)
		log_debug(LOG_CAT, "resuming %s at byte %lld", it->url, (long long)have);
	else
		log_debug(LOG_CAT, "getting %s", it->url);
	curl_multi_add_handle(r->multi, s->easy);
	return 0;
}

static int is_transient(CURLcode c, long http)
{
	switch (c) {
	case CURLE_HTTP_RETURNED_ERROR:
		return http == 408 || http == 429 || http >= 500;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int is_missing(CURLcode c, long http)
{
	return (c == CURLE_HTTP_RETURNED_ERROR && (http == 404 || http == 410)) ||
	       c == CURLE_FILE_COULDNT_READ_FILE || c == CURLE_REMOTE_FILE_NOT_FOUND;
}

/* Check the finished ".part" and rename it into place. */
static int finish_file(struct run *r, struct slot *s)
{
	struct dl_item *it = &r->items[s->idx];
	_cleanup_free_ char *part = part_path(it);
	char got[SHA256_HEX_LEN];
	struct stat st;

	/*
	 * No fsync(): an entry is trusted only after its hash is checked again on every reuse, so
	 * a file damaged by a crash is found and fetched anew rather than used.
	 */
	if (fstat(s->fd, &st) < 0) {
		item_fail(it, -errno, "cannot write %s: %s", part, strerror(errno));
		return -EIO;
	}
	if (it->size >= 0 && st.st_size != it->size) {
		item_fail(it, -KLD_E_VERIFY, "%s: size %lld, expected %lld", it->url,
		          (long long)st.st_size, (long long)it->size);
		unlink(part);
		return -KLD_E_VERIFY;
	}
	if (it->sha256) {
		digest_hex(s->md, got);
		if (strcasecmp(got, it->sha256) != 0) {
			item_fail(it, -KLD_E_VERIFY, "%s: SHA-256 %s, expected %s", it->url, got,
			          it->sha256);
			unlink(part);
			return -KLD_E_VERIFY;
		}
	}
	if (rename(part, it->dest) < 0) {
		item_fail(it, -errno, "cannot rename %s: %s", part, strerror(errno));
		return -errno;
	}
	return 0;
}

static void schedule_retry(struct run *r, size_t idx)
{
	struct job *j = &r->jobs[idx];
	int64_t delay = r->opts->backoff_ms << (j->attempts > 10 ? 10 : j->attempts - 1);

	j->not_before = now_ms() + delay;
	log_info(LOG_CAT, "retrying %s in %lld ms (attempt %d failed: %s)", r->items[idx].url,
	         (long long)delay, j->attempts, r->items[idx].error ? r->items[idx].error : "");
}

static void describe_failure(struct dl_item *it, CURLcode c, long http, const char *errbuf,
                             long stall)
{
	if (c == CURLE_OPERATION_TIMEDOUT)
		item_fail(it, -ETIMEDOUT, "%s: no answer for %ld s", it->url, stall);
	else if (c == CURLE_HTTP_RETURNED_ERROR)
		item_fail(it, is_missing(c, http) ? -ENOENT : -EIO, "%s: HTTP %ld", it->url, http);
	else if (c == CURLE_FILESIZE_EXCEEDED)
		item_fail(it, -KLD_E_VERIFY, "%s: larger than the expected %lld bytes", it->url,
		          (long long)it->size);
	else if (is_missing(c, http))
		item_fail(it, -ENOENT, "%s: no such file", it->url);
	else
		item_fail(it, -EIO, "%s: %s", it->url, errbuf[0] ? errbuf : curl_easy_strerror(c));
}

/* A transfer ended: decide between done, retry and failure. */
static void slot_done(struct run *r, struct slot *s, CURLcode c)
{
	struct dl_item *it = &r->items[s->idx];
	struct job *j = &r->jobs[s->idx];
	long http = 0;

	curl_multi_remove_handle(r->multi, s->easy);
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &http);
	it->bytes += s->written;
	if (c == CURLE_OK) {
		int ret = finish_file(r, s);

		if (ret == -KLD_E_VERIFY && s->resume > 0 && !j->restarted) {
			/* The old partial file may belong to another version: try once from 0. */
			j->restarted = 1;
			j->attempts--;
			j->not_before = 0;
		} else {
			it->result = ret;
			j->done = 1;
		}
	} else {
		describe_failure(it, c, http, s->errbuf, r->opts->stall_timeout);
		if (c == CURLE_HTTP_RETURNED_ERROR && http == 416 && !j->restarted) {
			j->restarted = 1; /* range not satisfiable: the partial file is stale */
			(void)ftruncate(s->fd, 0);
			j->not_before = 0;
		} else if (is_transient(c, http) && j->attempts <= r->opts->retries) {
			schedule_retry(r, s->idx);
		} else {
			if (it->result == -KLD_E_VERIFY) {
				_cleanup_free_ char *part = part_path(it);

				unlink(part);
			}
			j->done = 1;
		}
	}
	if (j->done && it->result == 0) {
		free(it->error);
		it->error = NULL;
	}
	close(s->fd);
	s->fd = -1;
	s->idx = SIZE_MAX;
}

static int start_ready(struct run *r, size_t *next_scan)
{
	int64_t now = now_ms();
	int active = 0;

	for (int i = 0; i < r->n_slots; i++)
		active += r->slots[i].idx != SIZE_MAX;
	for (size_t k = 0; k < r->n && active < r->n_slots; k++) {
		size_t idx = (*next_scan + k) % r->n;
		struct job *j = &r->jobs[idx];
		int in_flight = 0;

		if (j->done || j->busy || j->not_before > now)
			continue;
		for (int i = 0; i < r->n_slots; i++)
			in_flight |= r->slots[i].idx == idx;
		if (in_flight)
			continue;
		for (int i = 0; i < r->n_slots; i++) {
			int ret;

			if (r->slots[i].idx != SIZE_MAX)
				continue;
			ret = slot_start(r, &r->slots[i], idx);
			if (ret == 1)
				j->busy = 1;
			else if (ret == 2)
				j->done = 1; /* result 0, nothing transferred */
			else if (ret < 0)
				j->done = 1;
			else
				active++;
			break;
		}
	}
	return active;
}

static int all_done(const struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (!r->jobs[i].done && !r->jobs[i].busy)
			return 0;
	return 1;
}

static void drain_messages(struct run *r)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(r->multi, &left))) {
		struct slot *s = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_off_t got = 0;

		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		curl_easy_getinfo(m->easy_handle, CURLINFO_SIZE_DOWNLOAD_T, &got);
		r->done_bytes += (uint64_t)got;
		slot_done(r, s, m->data.result);
	}
}

static void show_progress(struct run *r)
{
	uint64_t in_flight = 0;

	for (int i = 0; i < r->n_slots; i++)
		if (r->slots[i].idx != SIZE_MAX)
			in_flight += (uint64_t)r->slots[i].written;
	progress_show(r->opts->what, r->done_bytes + in_flight,
	              r->total_bytes > r->done_bytes + in_flight ? r->total_bytes : 0);
}

static void cancel_all(struct run *r)
{
	for (int i = 0; i < r->n_slots; i++) {
		struct slot *s = &r->slots[i];

		if (s->idx == SIZE_MAX)
			continue;
		curl_multi_remove_handle(r->multi, s->easy);
		item_fail(&r->items[s->idx], -KLD_E_CANCELLED, "%s: interrupted",
		          r->items[s->idx].url);
		close(s->fd); /* the partial file stays for a later resume */
		s->fd = -1;
		s->idx = SIZE_MAX;
	}
	for (size_t i = 0; i < r->n; i++)
		if (!r->jobs[i].done) {
			r->jobs[i].done = 1;
			if (!r->items[i].result)
				item_fail(&r->items[i], -KLD_E_CANCELLED, "%s: interrupted",
				          r->items[i].url);
		}
}

/* Wait for the other process that holds a ".part" lock, then see whether it finished. */
static void wait_busy(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct job *j = &r->jobs[i];
		_cleanup_free_ char *part = NULL;
		_cleanup_close_ int fd = -1;

		if (!j->busy || j->done)
			continue;
		part = part_path(&r->items[i]);
		fd = open(part, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			(void)flock(fd, LOCK_EX);
		j->busy = 0;
		if (access(r->items[i].dest, F_OK) == 0)
			j->done = 1; /* the other process finished it; the caller verifies */
	}
}

static int run_loop(struct run *r)
{
	size_t next_scan = 0;

	for (;;) {
		int running = 0, active;

		if (r->opts->cancelled && r->opts->cancelled(r->opts->cancel_arg)) {
			cancel_all(r);
			return -KLD_E_CANCELLED;
		}
		active = start_ready(r, &next_scan);
		if (!active && all_done(r)) {
			if (!r->n)
				return 0;
			wait_busy(r);
			if (all_done(r))
				return 0;
			continue;
		}
		curl_multi_perform(r->multi, &running);
		drain_messages(r);
		show_progress(r);
		curl_multi_poll(r->multi, NULL, 0, 100, NULL);
	}
}

static int collect(struct run *r)
{
	int first = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct dl_item *it = &r->items[i];

		if (it->result == -ENOENT && it->optional)
			continue;
		if (it->result < 0 && !first)
			first = err_set(it->result, "%s", it->error ? it->error : it->url);
	}
	return first;
}

int dl_run(struct dl_item *items, size_t n, const struct dl_opts *opts)
{
	struct run r = {.items = items, .n = n, .opts = opts};
	int ret;

	pthread_once(&curl_once, curl_init_once);
	r.n_slots = opts->jobs < 1 ? 1 : opts->jobs;
	if ((size_t)r.n_slots > n && n > 0)
		r.n_slots = (int)n;
	r.jobs = xcalloc(n ? n : 1, sizeof(*r.jobs));
	r.slots = xcalloc((size_t)r.n_slots, sizeof(*r.slots));
	r.multi = curl_multi_init();
	curl_multi_setopt(r.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)r.n_slots);
	for (size_t i = 0; i < n; i++) {
		items[i].result = 0;
		items[i].bytes = 0;
		if (items[i].size > 0)
			r.total_bytes += (uint64_t)items[i].size;
	}
	for (int i = 0; i < r.n_slots; i++) {
		r.slots[i].easy = curl_easy_init();
		r.slots[i].md = EVP_MD_CTX_new();
		r.slots[i].idx = SIZE_MAX;
		r.slots[i].fd = -1;
	}
	ret = run_loop(&r);
	if (r.total_bytes)
		progress_show(opts->what, r.total_bytes, r.total_bytes);
	for (int i = 0; i < r.n_slots; i++) {
		curl_easy_cleanup(r.slots[i].easy);
		EVP_MD_CTX_free(r.slots[i].md);
	}
	curl_multi_cleanup(r.multi);
	free(r.slots);
	free(r.jobs);
	if (ret < 0)
		return err_set(ret, "downloads interrupted");
	return collect(&r);
}
