// SPDX-License-Identifier: GPL-2.0-only
/* UTF-8 subject names: validation and escaping (tw_utf8.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "tw_utf8.h"

static const char *const err_names[] = {
	[TW_UTF8_OK] = "valid",
	[TW_UTF8_CONTROL] = "control character",
	[TW_UTF8_INVALID] = "invalid UTF-8",
	[TW_UTF8_OVERLONG] = "overlong UTF-8 sequence",
	[TW_UTF8_SURROGATE] = "UTF-16 surrogate in UTF-8",
	[TW_UTF8_RANGE] = "UTF-8 beyond U+10FFFF",
	[TW_UTF8_NUL] = "NUL byte",
};

const char *tw_utf8_strerror(enum tw_utf8_err e)
{
	if ((unsigned int)e >= sizeof(err_names) / sizeof(err_names[0]))
		return "invalid UTF-8";
	return err_names[e];
}

/*
 * One code point at @s (@n > 0 bytes left): its length in *@len, or the
 * error. Lead bytes 0xc0/0xc1 are overlong 2-byte forms, 0xf5..0xff start
 * nothing; the minimum per length catches the other overlong forms.
 */
static enum tw_utf8_err decode(const unsigned char *s, size_t n, uint32_t *cp, size_t *len)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t c = s[0];
	size_t k, i;

	if (c < 0x80) {
		*cp = c;
		*len = 1;
		return TW_UTF8_OK;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		c &= 0x07;
	} else if (c == 0xc0 || c == 0xc1) {
		return TW_UTF8_OVERLONG;
	} else if (c >= 0xf5) {
		return TW_UTF8_RANGE;
	} else {
		return TW_UTF8_INVALID; /* a continuation byte where a character starts */
	}
	for (i = 1; i < k; i++) {
		if (i >= n || (s[i] & 0xc0) != 0x80)
			return TW_UTF8_INVALID; /* truncated */
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[k])
		return TW_UTF8_OVERLONG;
	if (c >= 0xd800 && c <= 0xdfff)
		return TW_UTF8_SURROGATE;
	if (c > 0x10ffff)
		return TW_UTF8_RANGE;
	*cp = c;
	*len = k;
	return TW_UTF8_OK;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

enum tw_utf8_err tw_utf8_check(const char *s, size_t n, size_t *off)
{
	const unsigned char *p = (const unsigned char *)s;
	enum tw_utf8_err e = TW_UTF8_OK;
	size_t i = 0, len;
	uint32_t cp;

	while (i < n) {
		e = decode(p + i, n - i, &cp, &len);
		if (!e && cp == 0)
			e = TW_UTF8_NUL;
		else if (!e && is_control(cp))
			e = TW_UTF8_CONTROL;
		if (e)
			break;
		i += len;
	}
	if (off)
		*off = i;
	return e;
}

char *tw_utf8_escape(char *dst, size_t dstlen, const char *s, size_t n, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	bool cut = n > max;
	size_t i = 0, o = 0, len;
	uint32_t cp;

	if (!dstlen)
		return dst;
	if (cut)
		n = max;
	while (i < n) {
		char hex[5];
		const char *src;
		size_t w;

		if (decode(p + i, n - i, &cp, &len) || is_control(cp) || cp == '\\') {
			snprintf(hex, sizeof(hex), "\\x%02x", p[i]);
			src = hex;
			w = 4;
			len = 1;
		} else {
			src = s + i;
			w = len;
		}
		if (o + w >= dstlen)
			break;
		for (size_t k = 0; k < w; k++)
			dst[o++] = src[k];
		i += len;
	}
	dst[o] = '\0';
	if ((cut || i < n) && o + 3 < dstlen)
		memcpy(dst + o, "...", 4);
	return dst;
}
