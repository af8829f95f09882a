// SPDX-License-Identifier: GPL-2.0-only
/*
 * The session table's restore path at its edges (a restarted daemon puts
 * the sessions it journalled back at their old slots): every malformed
 * restore is refused, restored slots are never handed out again, and the
 * free list rebuilt after restores gives out the lowest free slot first.
 * Found by make mutate / make coverage: none of these checks was reached.
 */
#include "test.h"
#include "session.h"

static void mk(struct tw_session *s, uint32_t slot, const char *subject)
{
	memset(s, 0, sizeof(*s));
	s->slot = slot;
	snprintf(s->subject, sizeof(s->subject), "%s", subject);
}

static void subtest_restore_refused(void)
{
	struct tw_sessions *t = tw_sessions_new(4);
	struct tw_session s;

	if (!ASSERT_OK_PTR(t, "new"))
		return;
	mk(&s, 4, "past");
	ASSERT_EQ(tw_sessions_restore(t, &s), -EINVAL, "slot == nslots");
	mk(&s, UINT32_MAX, "far");
	ASSERT_EQ(tw_sessions_restore(t, &s), -EINVAL, "slot far out");
	mk(&s, 1, "");
	ASSERT_EQ(tw_sessions_restore(t, &s), -EINVAL, "empty subject");
	mk(&s, 1, "x");
	memset(s.subject, 'x', sizeof(s.subject));
	ASSERT_EQ(tw_sessions_restore(t, &s), -EINVAL, "subject without NUL");
	ASSERT_EQ(tw_sessions_count(t), 0, "nothing restored");

	mk(&s, 3, "last");
	ASSERT_OK(tw_sessions_restore(t, &s), "slot nslots-1");
	mk(&s, 0, "last");
	ASSERT_EQ(tw_sessions_restore(t, &s), -EEXIST, "same subject in another slot");
	mk(&s, 3, "other");
	ASSERT_EQ(tw_sessions_restore(t, &s), -EINVAL, "slot taken");
	ASSERT_EQ(tw_sessions_count(t), 1, "one restored");
	ASSERT_TRUE(tw_sessions_by_slot(t, 3) == tw_sessions_find(t, "last"), "by slot");
	ASSERT_TRUE(tw_sessions_by_slot(t, 3)->used, "marked used");
	ASSERT_TRUE(tw_sessions_by_slot(t, 0) == NULL, "unused slot");
	ASSERT_TRUE(tw_sessions_by_slot(t, 4) == NULL, "slot == nslots");
	tw_sessions_free(t);
}

static void subtest_free_list_after_restore(void)
{
	struct tw_sessions *t = tw_sessions_new(4);
	struct tw_session s, *a, *b;

	if (!ASSERT_OK_PTR(t, "new"))
		return;
	mk(&s, 0, "r0");
	ASSERT_OK(tw_sessions_restore(t, &s), "restore slot 0");
	mk(&s, 2, "r2");
	ASSERT_OK(tw_sessions_restore(t, &s), "restore slot 2");
	/* deleting while the free list is stale must not put the slot in twice */
	tw_sessions_del(t, tw_sessions_find(t, "r2"));
	tw_sessions_del(t, NULL);
	ASSERT_EQ(tw_sessions_count(t), 1, "count after delete");

	a = tw_sessions_add(t, "n1");
	b = tw_sessions_add(t, "n2");
	if (ASSERT_OK_PTR(a, "add n1") && ASSERT_OK_PTR(b, "add n2")) {
		ASSERT_EQ(a->slot, 1, "lowest free slot first");
		ASSERT_EQ(b->slot, 2, "then the deleted one");
	}
	ASSERT_OK_PTR(tw_sessions_add(t, "n3"), "slot 3");
	ASSERT_TRUE(tw_sessions_add(t, "n4") == NULL && errno == ENOSPC, "full: no slot twice");
	ASSERT_EQ(tw_sessions_count(t), 4, "count");
	/* a deleted session deleted again changes nothing */
	a = tw_sessions_find(t, "n1");
	tw_sessions_del(t, a);
	tw_sessions_del(t, a);
	ASSERT_EQ(tw_sessions_count(t), 3, "double delete counted once");
	ASSERT_OK_PTR(tw_sessions_add(t, "n5"), "its slot is free again");
	ASSERT_TRUE(tw_sessions_add(t, "n6") == NULL && errno == ENOSPC, "and only once");
	tw_sessions_free(t);
}

void test_session_edges(void)
{
	if (test__start_subtest("restore_refused"))
		subtest_restore_refused();
	if (test__start_subtest("free_list_after_restore"))
		subtest_free_list_after_restore();
}
