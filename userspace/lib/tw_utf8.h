/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Subject names (X.509 CNs, policy ids) are UTF-8 text. One validator for
 * every place that takes one (the hook's environment, the daemon's re-check
 * of hook requests, the policy parser), so that they agree byte for byte:
 * well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF, no truncated sequence) without control characters (C0, DEL, C1).
 * And one escaper for logging what was refused: one log line stays one line.
 */
#ifndef TW_UTF8_H
#define TW_UTF8_H

#include <stddef.h>

enum tw_utf8_err {
	TW_UTF8_OK = 0,
	TW_UTF8_CONTROL, /* C0, DEL or C1 control character */
	TW_UTF8_INVALID, /* not well-formed: bad lead or continuation byte, truncated */
	TW_UTF8_OVERLONG, /* a code point encoded in more bytes than it needs */
	TW_UTF8_SURROGATE, /* U+D800..U+DFFF */
	TW_UTF8_RANGE, /* past U+10FFFF */
	TW_UTF8_NUL, /* a NUL byte inside the @n bytes */
};

/*
 * Check @n bytes at @s. TW_UTF8_OK, or the first problem with its byte
 * offset in *@off (when @off is not NULL).
 */
enum tw_utf8_err tw_utf8_check(const char *s, size_t n, size_t *off);

/* "invalid UTF-8", "control character", ...: for messages. */
const char *tw_utf8_strerror(enum tw_utf8_err e);

/*
 * Copy @s (@n bytes) into @dst for a log line or a message: well-formed
 * printable UTF-8 as is, every other byte (and '\\') as "\xNN". At most @max
 * input bytes are copied, then "..." marks the cut. Always NUL-terminates;
 * returns @dst. @dstlen of 4 * @max + 4 holds any input.
 */
char *tw_utf8_escape(char *dst, size_t dstlen, const char *s, size_t n, size_t max);

#endif /* TW_UTF8_H */
