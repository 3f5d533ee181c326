/* SPDX-License-Identifier: MIT */
/*
 * Module compression after signing, in the forms the kernel's module loader (in-kernel
 * decompression, CONFIG_MODULE_DECOMPRESS) and kmod read: xz with CRC32 checks and a 1 MiB
 * dictionary (the kernel's xz decoder knows no CRC64 or SHA-256 and kbuild asks for this),
 * zstd, and gzip without file name or time stamp. All deterministic.
 */
#include "sign.h"

#include <string.h>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "util.h"

#define ZSTD_MODULE_LEVEL 19 /* 8 MiB window at most; far below what the kernel allows */

const char *module_compress_ext(enum module_compress c)
{
	switch (c) {
	case MODULE_COMPRESS_GZIP:
		return ".gz";
	case MODULE_COMPRESS_XZ:
		return ".xz";
	case MODULE_COMPRESS_ZSTD:
		return ".zst";
	default:
		return "";
	}
}

static int xz_compress(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len)
{
	lzma_options_lzma opt;
	lzma_filter filters[2];
	size_t bound = lzma_stream_buffer_bound(len), pos = 0;
	uint8_t *dst;

	if (lzma_lzma_preset(&opt, 6))
		return err_set(-EINVAL, "xz preset 6 unavailable");
	opt.dict_size = 1u << 20;
	filters[0] = (lzma_filter){.id = LZMA_FILTER_LZMA2, .options = &opt};
	filters[1] = (lzma_filter){.id = LZMA_VLI_UNKNOWN};
	dst = malloc(bound);
	if (!dst)
		return -ENOMEM;
	if (lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, buf, len, dst, &pos,
	                              bound) != LZMA_OK) {
		free(dst);
		return err_set(-EIO, "xz compression failed");
	}
	*out = dst;
	*out_len = pos;
	return 0;
}

static int zstd_compress(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len)
{
	size_t bound = ZSTD_compressBound(len), n;
	uint8_t *dst = malloc(bound);

	if (!dst)
		return -ENOMEM;
	n = ZSTD_compress(dst, bound, buf, len, ZSTD_MODULE_LEVEL);
	if (ZSTD_isError(n)) {
		free(dst);
		return err_set(-EIO, "zstd compression failed: %s", ZSTD_getErrorName(n));
	}
	*out = dst;
	*out_len = n;
	return 0;
}

static int gzip_compress(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream z = {0};
	uLong bound;
	uint8_t *dst;
	int zr;

	/* windowBits 15 + 16: a gzip wrapper; zlib writes no name and time 0 unless told. */
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return err_set(-ENOMEM, "gzip: cannot start deflate");
	bound = deflateBound(&z, (uLong)len);
	dst = malloc(bound);
	if (!dst) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	z.next_out = dst;
	z.avail_out = (uInt)bound;
	zr = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(dst);
		return err_set(-EIO, "gzip compression failed");
	}
	*out = dst;
	return 0;
}

int module_compress(enum module_compress c, const uint8_t *buf, size_t len, uint8_t **out,
                    size_t *out_len)
{
	if (len > UINT32_MAX)
		return err_set(-EFBIG, "module of %zu bytes is too large", len);
	switch (c) {
	case MODULE_COMPRESS_XZ:
		return xz_compress(buf, len, out, out_len);
	case MODULE_COMPRESS_ZSTD:
		return zstd_compress(buf, len, out, out_len);
	case MODULE_COMPRESS_GZIP:
		return gzip_compress(buf, len, out, out_len);
	default:
		*out = malloc(len ? len : 1);
		if (!*out)
			return -ENOMEM;
		memcpy(*out, buf, len);
		*out_len = len;
		return 0;
	}
}

/* ---- decompression, for verify-module and tests ---- */

struct growbuf {
	uint8_t *p;
	size_t len, cap;
};

static int grow(struct growbuf *g)
{
	size_t cap = g->cap ? g->cap * 2 : 1u << 20;
	uint8_t *p = realloc(g->p, cap);

	if (!p)
		return -ENOMEM;
	g->p = p;
	g->cap = cap;
	return 0;
}

static int xz_decompress(const uint8_t *buf, size_t len, struct growbuf *g)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret lr;

	if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
		return -ENOMEM;
	s.next_in = buf;
	s.avail_in = len;
	do {
		if (g->len == g->cap && grow(g) < 0) {
			lzma_end(&s);
			return -ENOMEM;
		}
		s.next_out = g->p + g->len;
		s.avail_out = g->cap - g->len;
		lr = lzma_code(&s, LZMA_FINISH);
		g->len = g->cap - s.avail_out;
	} while (lr == LZMA_OK);
	lzma_end(&s);
	return lr == LZMA_STREAM_END ? 0 : -EBADMSG;
}

static int zstd_decompress(const uint8_t *buf, size_t len, struct growbuf *g)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	ZSTD_inBuffer in = {buf, len, 0};
	size_t zr = 1;

	if (!d)
		return -ENOMEM;
	while (zr != 0) {
		ZSTD_outBuffer outb;

		if (g->len == g->cap && grow(g) < 0)
			break;
		outb = (ZSTD_outBuffer){g->p + g->len, g->cap - g->len, 0};
		zr = ZSTD_decompressStream(d, &outb, &in);
		g->len += outb.pos;
		if (ZSTD_isError(zr) || (in.pos == in.size && outb.pos < outb.size && zr != 0))
			break;
	}
	ZSTD_freeDStream(d);
	return zr == 0 ? 0 : -EBADMSG;
}

static int gzip_decompress(const uint8_t *buf, size_t len, struct growbuf *g)
{
	z_stream z = {0};
	int zr = Z_OK;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	while (zr == Z_OK) {
		if (g->len == g->cap && grow(g) < 0)
			break;
		z.next_out = g->p + g->len;
		z.avail_out = (uInt)(g->cap - g->len);
		zr = inflate(&z, Z_NO_FLUSH);
		g->len = g->cap - z.avail_out;
	}
	inflateEnd(&z);
	return zr == Z_STREAM_END ? 0 : -EBADMSG;
}

int module_decompress(const uint8_t *buf, size_t len, const char *name, uint8_t **out,
                      size_t *out_len)
{
	static const uint8_t xz_magic[] = {0xfd, '7', 'z', 'X', 'Z', 0};
	static const uint8_t zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};
	static const uint8_t gz_magic[] = {0x1f, 0x8b};
	struct growbuf g = {0};
	int r;

	if (len >= sizeof(xz_magic) && !memcmp(buf, xz_magic, sizeof(xz_magic)))
		r = xz_decompress(buf, len, &g);
	else if (len >= sizeof(zstd_magic) && !memcmp(buf, zstd_magic, sizeof(zstd_magic)))
		r = zstd_decompress(buf, len, &g);
	else if (len >= sizeof(gz_magic) && !memcmp(buf, gz_magic, sizeof(gz_magic)))
		r = gzip_decompress(buf, len, &g);
	else
		return module_compress(MODULE_COMPRESS_NONE, buf, len, out, out_len);
	if (r < 0) {
		free(g.p);
		return err_set(r, "%s: cannot decompress: %s", name,
		               r == -ENOMEM ? "out of memory" : "corrupt data");
	}
	*out = g.p ? g.p : malloc(1);
	*out_len = g.len;
	return 0;
}
