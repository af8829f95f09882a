// SPDX-License-Identifier: GPL-2.0-only
/*
 * The record store's SQLite backend: idempotent by (node, log_id, seq), the
 * resume point is the committed maximum, a rolled-back batch leaves nothing,
 * tokens are found by hash only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "portal_test.h"
#include "recstore.h"

static int put(struct tw_recstore *rs, const char *node, const char *log, uint64_t seq, bool *dup)
{
	struct tw_rec_row r = { .node = node,
				.log_id = log,
				.seq = seq,
				.kind = "connect",
				.session = "s",
				.subject = "u",
				.body = "{}",
				.body_len = 2 };

	return rs->ops->put(rs, &r, dup);
}

void test_portal_recstore(void)
{
	static const char L1[] = "0123456789abcdef0123456789abcdef",
			  L2[] = "ffffffffffffffffffffffffffffffff";
	char dir[256], err[256], who[64];
	char *path = tw_pt_tmpdb(dir, sizeof(dir));
	struct tw_recstore *rs = tw_recstore_sqlite_open(path, err, sizeof(err));
	uint8_t h[TW_TOKEN_HASH_LEN], h2[TW_TOKEN_HASH_LEN];
	struct tw_node_info ni;
	uint64_t r = 99;
	bool dup;

	ASSERT_TRUE(rs != NULL, "opens");
	if (!rs)
		goto out;
	tw_token_hash("secret", 6, h);
	tw_token_hash("secreT", 6, h2);
	ASSERT_EQ(rs->ops->node_add(rs, "n1", h), 0, "node add with a token");
	ASSERT_EQ(rs->ops->node_add(rs, "n2", NULL), 0, "node add, certificate only");
	ASSERT_EQ(rs->ops->node_add(rs, "n1", NULL), -EEXIST, "twice: -EEXIST");
	ASSERT_EQ(rs->ops->node_by_token(rs, h, who, sizeof(who)), 0, "token found");
	ASSERT_STREQ(who, "n1", "... for its node");
	ASSERT_EQ(rs->ops->node_by_token(rs, h2, who, sizeof(who)), -ENOENT, "another token: none");
	ASSERT_EQ(rs->ops->node_get(rs, "n2", &ni), 0, "node get");
	ASSERT_TRUE(ni.enabled && !ni.has_token, "enabled, no token");
	ASSERT_EQ(rs->ops->node_get(rs, "n3", &ni), -ENOENT, "unknown node");

	ASSERT_EQ(rs->ops->resume_after(rs, "n1", L1, &r), 0, "resume of a new log");
	ASSERT_EQ(r, 0, "... is 0");
	ASSERT_EQ(rs->ops->begin(rs), 0, "begin");
	ASSERT_EQ(put(rs, "n1", L1, 1, &dup), 0, "put 1");
	ASSERT_FALSE(dup, "1 is new");
	ASSERT_EQ(put(rs, "n1", L1, 5, &dup), 0, "put 5 (a hole is fine)");
	ASSERT_EQ(put(rs, "n1", L1, 1, &dup), 0, "put 1 again");
	ASSERT_TRUE(dup, "... a duplicate");
	ASSERT_EQ(put(rs, "n1", L2, 1, &dup), 0, "seq 1 of another log");
	ASSERT_FALSE(dup, "... is not a duplicate");
	ASSERT_EQ(rs->ops->commit(rs), 0, "commit");
	ASSERT_EQ(rs->ops->resume_after(rs, "n1", L1, &r), 0, "resume");
	ASSERT_EQ(r, 5, "... the committed maximum");

	ASSERT_EQ(rs->ops->begin(rs), 0, "begin");
	ASSERT_EQ(put(rs, "n1", L1, 9, &dup), 0, "put 9");
	ASSERT_EQ(rs->ops->rollback(rs), 0, "rollback");
	ASSERT_EQ(rs->ops->resume_after(rs, "n1", L1, &r), 0, "resume");
	ASSERT_EQ(r, 5, "a rolled-back 9 is not held");
	rs->ops->close(rs);
out:
	tw_pt_rmdb(dir);
	free(path);
}
