// SPDX-License-Identifier: GPL-2.0-only
/*
 * tw_ctl_recv()'s failures, over a real socketpair: a response longer than
 * the frame's limit is refused with -EMSGSIZE and says so (and the next
 * line still arrives), a read error is reported with its errno. Found by
 * make mutate: removing the message of the first passed every suite, as no
 * test sent an over-long response to the client side. Writing this test
 * found a frame whose limit is below TW_CTL_LINE_MAX taking any complete
 * line that fits the embedded buffer.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include "test.h"
#include "ctl.h"

static void subtest_response_too_long(void)
{
	struct tw_ctl_frame *f = malloc(sizeof(*f));
	char err[128] = "", line[300];
	json_t *msg = NULL;
	int sv[2], ret;

	if (!ASSERT_OK_PTR(f, "malloc") ||
	    !ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), "socketpair")) {
		free(f);
		return;
	}
	tw_ctl_frame_init_max(f, 128);
	memset(line, 'a', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	ASSERT_EQ(write(sv[1], line, sizeof(line)), sizeof(line), "write 300 bytes");
	ASSERT_EQ(write(sv[1], "{\"ok\":true}\n", 12), 12, "write the next");
	ret = tw_ctl_recv(sv[0], f, &msg, tw_ctl_now_ms() + 1000, err, sizeof(err));
	ASSERT_EQ(ret, -EMSGSIZE, "too long");
	ASSERT_STREQ(err, "message longer than 128 bytes", "message");
	ASSERT_TRUE(msg == NULL, "no message");
	ret = tw_ctl_recv(sv[0], f, &msg, tw_ctl_now_ms() + 1000, err, sizeof(err));
	if (ASSERT_OK(ret, "the next line"))
		ASSERT_TRUE(json_is_true(json_object_get(msg, "ok")), "ok");
	json_decref(msg);
	tw_ctl_frame_fini(f);
	close(sv[0]);
	close(sv[1]);
	free(f);
}

static void subtest_response_over_line_max(void)
{
	/* the default frame: no newline within TW_CTL_LINE_MAX bytes */
	size_t n = TW_CTL_LINE_MAX + 16;
	struct tw_ctl_frame *f = malloc(sizeof(*f));
	char *big = malloc(n), err[128] = "";
	json_t *msg = NULL;
	int sv[2], ret;

	if (!ASSERT_OK_PTR(f, "malloc") || !ASSERT_OK_PTR(big, "malloc") ||
	    !ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), "socketpair")) {
		free(f);
		free(big);
		return;
	}
	tw_ctl_frame_init(f);
	memset(big, 'b', n);
	ASSERT_EQ(write(sv[1], big, n), (ssize_t)n, "write");
	ret = tw_ctl_recv(sv[0], f, &msg, tw_ctl_now_ms() + 1000, err, sizeof(err));
	ASSERT_EQ(ret, -EMSGSIZE, "too long");
	ASSERT_STREQ(err, "message longer than 65536 bytes", "message");
	close(sv[0]);
	close(sv[1]);
	free(big);
	free(f);
}

static void subtest_read_error(void)
{
	struct tw_ctl_frame *f = malloc(sizeof(*f));
	char err[128] = "";
	json_t *msg = NULL;
	int fd, ret;

	if (!ASSERT_OK_PTR(f, "malloc"))
		return;
	tw_ctl_frame_init(f);
	fd = dup(0);
	close(fd); /* a descriptor number that is surely closed */
	ret = tw_ctl_recv(fd, f, &msg, tw_ctl_now_ms() + 1000, err, sizeof(err));
	ASSERT_EQ(ret, -EBADF, "read error returned");
	ASSERT_TRUE(strstr(err, "read: ") == err, "message names the read");
	free(f);
}

void test_ctl_edges(void)
{
	if (test__start_subtest("response_too_long"))
		subtest_response_too_long();
	if (test__start_subtest("response_over_line_max"))
		subtest_response_over_line_max();
	if (test__start_subtest("read_error"))
		subtest_read_error();
}
