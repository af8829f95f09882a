// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the control-socket framing and parsing
 * (userspace/lib/ctl.c): the bytes a local user can send to the daemon's
 * socket, in the pieces read(2) may cut them into. Properties beyond "no
 * crash, no leak, no UB":
 *  - the lines tw_ctl_frame_next() hands out are exactly those of a naive
 *    splitter over the whole input (split at '\n', one trailing '\r'
 *    dropped, a line longer than the frame's limit refused once with
 *    -EMSGSIZE and skipped), however the input was cut into pushes;
 *  - a refusal of tw_ctl_parse() always carries a message;
 *  - whatever parses, tw_ctl_encode() writes as one line that parses back
 *    to an equal object.
 *
 * Input: byte 0 picks the frame (daemon's default, a small limit from
 * byte 1, or the client's 16 MiB limit), byte 2 the push size; the rest is
 * the stream.
 *
 *   make build/fuzz/fuzz_ctl
 *   build/fuzz/fuzz_ctl -max_total_time=60 build/fuzz/corpus/fuzz_ctl
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next event of the naive splitter from @pos: 1 line, -EMSGSIZE, 0 end (nothing pending). */
static int ref_next(const uint8_t *s, size_t size, size_t max, size_t *pos, const uint8_t **line,
		    size_t *len)
{
	const uint8_t *nl;
	size_t n;

	if (*pos >= size)
		return 0;
	nl = memchr(s + *pos, '\n', size - *pos);
	if (!nl) {
		n = size - *pos;
		*pos = size;
		/* unterminated: refused once it reaches the limit, else still pending */
		return n >= max ? -EMSGSIZE : 0;
	}
	n = (size_t)(nl - (s + *pos));
	*line = s + *pos;
	*pos += n + 1;
	if (n + 1 > max)
		return -EMSGSIZE;
	if (n && (*line)[n - 1] == '\r')
		n--;
	*len = n;
	return 1;
}

static void check_parse(const char *line, size_t len)
{
	char err[256] = "", *enc;
	json_t *msg, *back;
	enum tw_ctl_op_id id;
	size_t elen;
	int rc;

	rc = tw_ctl_parse(line, len, &msg, err, sizeof(err));
	if (rc) {
		if ((rc != -EBADMSG && rc != -EPROTO) || !err[0])
			abort();
		return;
	}
	if (json_is_string(json_object_get(msg, "op")))
		tw_ctl_op_find(json_string_value(json_object_get(msg, "op")), &id);
	rc = tw_ctl_encode(msg, &enc, &elen);
	if (rc == 0) {
		if (!elen || enc[elen - 1] != '\n' || memchr(enc, '\n', elen - 1))
			abort();
		if (tw_ctl_parse(enc, elen - 1, &back, err, sizeof(err)) || !json_equal(msg, back))
			abort();
		json_decref(back);
		free(enc);
	} else if (rc != -EMSGSIZE && rc != -ENOMEM) {
		abort();
	}
	json_decref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tw_ctl_frame f;
	const uint8_t *s, *rline = NULL;
	size_t n, chunk, off = 0, rpos = 0, rlen = 0, max, len;
	char *line;
	int got, want;

	if (size < 3)
		return 0;
	switch (data[0] % 3) {
	case 0:
		tw_ctl_frame_init(&f);
		break;
	case 1:
		tw_ctl_frame_init_max(&f, 1 + data[1]);
		break;
	default:
		tw_ctl_frame_init_max(&f, TW_CTL_RESP_MAX);
		break;
	}
	max = f.max;
	chunk = data[2] ? data[2] : SIZE_MAX;
	s = data + 3;
	n = size - 3;
	while (off < n) {
		size_t take = n - off < chunk ? n - off : chunk;

		off += tw_ctl_frame_push(&f, s + off, take);
		while ((got = tw_ctl_frame_next(&f, &line, &len)) != 0) {
			want = ref_next(s, n, max, &rpos, &rline, &rlen);
			if (got != want)
				abort();
			if (got == 1 && (len != rlen || memcmp(line, rline, len) || line[len]))
				abort();
			if (got == 1)
				check_parse(line, len);
		}
	}
	/* Nothing more may come out of the reference than an unterminated short tail. */
	want = ref_next(s, n, max, &rpos, &rline, &rlen);
	if (want != 0 || rpos != n)
		abort();
	tw_ctl_frame_fini(&f);
	return 0;
}
