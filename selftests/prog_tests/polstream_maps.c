// SPDX-License-Identifier: GPL-2.0-only
/*
 * The portal's policy stream into real BPF maps: signed bundles fed to the
 * line handling (polstream.c) go through the daemon's own install path
 * (policysrc.c, admission.c, sessions.c) into a dataplane with pinned maps.
 * A delta confirming a subject moves its SANDBOX client to PERMIT, a delta
 * revoking one frees its slot and ends its session; a badly signed bundle
 * leaves the maps as they were. The policy cache is checked too: after a
 * delta it replays to the same version.
 */
#include <stdlib.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <nghttp2/nghttp2.h>
#include "test.h"
#include "admission.h"
#include "daemon.h"
#include "fileio.h"
#include "health.h"
#include "journal.h"
#include "policy.h"
#include "policysrc.h"
#include "polstream_int.h"
#include "sessdb.h"
#include "session.h"
#include "sessions.h"
#include "tw_dp.h"
#include "tw_sig.h"

static const char priv_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			       "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
			       "-----END PRIVATE KEY-----\n";
static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
			      "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
			      "-----END PUBLIC KEY-----\n";

static const char snap[] =
	"{\"type\":\"snapshot\",\"version\":1042,\"tenants\":[{\"id\":\"acme\"}],\"profiles\":[{\"id\":"
	"\"employees\",\"interfaces\":[\"lo\"],\"from_client\":[{\"prefix\":\"10.20.0.0/16\"}]}],"
	"\"subjects\":[{\"kind\":\"ipsec_id\",\"id\":\"alice\",\"tenant\":\"acme\",\"profiles\":"
	"[\"employees\"],\"state\":\"enabled\"},{\"kind\":\"ipsec_id\",\"id\":\"bob\",\"tenant\":"
	"\"acme\",\"profiles\":[\"employees\"],\"state\":\"needs-confirmation\"}]}";
static const char confirm_bob[] =
	"{\"type\":\"delta\",\"base\":1042,\"version\":1043,\"subjects\":{\"upsert\":[{\"kind\":"
	"\"ipsec_id\",\"id\":\"bob\",\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":"
	"\"enabled\"}]}}";
static const char revoke_alice[] =
	"{\"type\":\"delta\",\"base\":1043,\"version\":1044,\"subjects\":{\"upsert\":[{\"kind\":"
	"\"ipsec_id\",\"id\":\"alice\",\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":"
	"\"revoked\"}]}}";

static const char add_carol[] =
	"{\"type\":\"delta\",\"base\":1044,\"version\":1045,\"subjects\":{\"upsert\":[{\"kind\":"
	"\"ipsec_id\",\"id\":\"carol\",\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":"
	"\"enabled\"}]}}";
/* what a portal sends for since=0 at 1045 */
static const char snap1045[] =
	"{\"type\":\"snapshot\",\"version\":1045,\"tenants\":[{\"id\":\"acme\"}],\"profiles\":[{\"id\":"
	"\"employees\",\"interfaces\":[\"lo\"],\"from_client\":[{\"prefix\":\"10.20.0.0/16\"}]}],"
	"\"subjects\":[{\"kind\":\"ipsec_id\",\"id\":\"alice\",\"tenant\":\"acme\",\"profiles\":"
	"[\"employees\"],\"state\":\"revoked\"},{\"kind\":\"ipsec_id\",\"id\":\"bob\",\"tenant\":"
	"\"acme\",\"profiles\":[\"employees\"],\"state\":\"enabled\"},{\"kind\":\"ipsec_id\",\"id\":"
	"\"carol\",\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":\"enabled\"}]}";

/* 1046: the profile's allowlist grows by 10.30.0.0/16 */
static const char widen[] =
	"{\"type\":\"delta\",\"base\":1045,\"version\":1046,\"profiles\":{\"upsert\":[{\"id\":"
	"\"employees\",\"interfaces\":[\"lo\"],\"from_client\":[{\"prefix\":\"10.20.0.0/16\"},"
	"{\"prefix\":\"10.30.0.0/16\"}]}]}}";

static const char erin_needs[] =
	"{\"type\":\"delta\",\"base\":1046,\"version\":1047,\"subjects\":{\"upsert\":[{\"kind\":"
	"\"ipsec_id\",\"id\":\"erin\",\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":"
	"\"needs-confirmation\"}]}}";
static const char add_frank[] =
	"{\"type\":\"delta\",\"base\":1047,\"version\":1048,\"subjects\":{\"upsert\":[{\"kind\":"
	"\"ipsec_id\",\"id\":\"frank\",\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":"
	"\"enabled\"}]}}";

/* erin connects on lo through admission, as a VPN stack's hook would ask. */
static uint32_t erin_connects(struct tw_daemon *d)
{
	struct tw_conn_req r = {
		.kind = TW_SUBJ_IPSEC_ID, .subject = "erin", .ifname = "lo", .ntun = 1
	};
	const struct tw_session *s = NULL;
	struct tw_decision dec;

	tw_addr_parse("10.8.0.9", &r.tun[0]);
	if (!ASSERT_OK(tw_adm_connect(d, &r, &dec, &s), "erin connects") ||
	    !ASSERT_OK_PTR(s, dec.reason))
		return ~0u;
	return s->state;
}

static void erin_leaves(struct tw_daemon *d)
{
	struct tw_session *s = tw_sessions_find(d->ss, "erin");

	if (ASSERT_OK_PTR(s, "erin's session"))
		tw_sess_end(d, s, TW_TERM_USER_REQUEST, false);
}

/* Is @addr in profile @num's from-client list in the maps? 0, -ENOENT or -errno. */
static int acl_has(struct tw_dp *dp, uint32_t num, const char *addr)
{
	struct tw_acl_key k = { .list = TW_LIST_FROM_CLIENT };
	struct tw_acl_val val;
	struct tw_addr a;
	uint32_t inner_id;
	int inner, err;

	if (tw_addr_parse(addr, &a))
		return -EINVAL;
	k.family = a.family;
	memcpy(k.addr, a.addr, 16);
	k.prefixlen = TW_ACL_KEY_FIXED_BITS + 32;
	if (bpf_map_lookup_elem(tw_dp_map_fd(dp, TW_MAP_ACL), &num, &inner_id))
		return -errno;
	inner = bpf_map_get_fd_by_id(inner_id);
	if (inner < 0)
		return -errno;
	err = bpf_map_lookup_elem(inner, &k, &val) ? -errno : 0;
	close(inner);
	return err;
}

static const struct tw_polstream_sink real_sink = {
	.snapshot = tw_polsrc_portal_snapshot,
	.delta = tw_polsrc_portal_delta,
	.recache = tw_polsrc_portal_recache,
};

static struct tw_sig_key *signer;

/* The signature line and the bundle line, signed for @node. */
static uint32_t feed_signed(struct tw_polstream *ps, const char *line, const char *node)
{
	char sig[TW_SIG_B64_LEN + 1] = "", buf[4096];
	uint32_t rc;

	tw_sig_sign(signer, node, line, strlen(line), sig);
	snprintf(buf, sizeof(buf),
		 "{\"type\":\"signature\",\"alg\":\"ed25519\",\"sig\":\"%s\"}\n%s\n", sig, line);
	rc = tw_polstream_feed(ps, (const uint8_t *)buf, strlen(buf));
	return rc;
}

static struct tw_session *add_session(struct tw_daemon *d, const char *id, uint32_t state,
				      const char *addr)
{
	const struct tw_subject *sub = tw_policy_subject(d->pol, TW_SUBJ_IPSEC_ID, id);
	struct tw_session *s = tw_sessions_add(d->ss, id);

	if (!ASSERT_OK_PTR(s, "session") || !ASSERT_OK_PTR(sub, "subject"))
		return NULL;
	snprintf(s->id, sizeof(s->id), "s-%s", id);
	s->kind = TW_SUBJ_IPSEC_ID; /* no VPN adapter: nothing to kill outside the maps */
	snprintf(s->ifname, sizeof(s->ifname), "lo");
	s->ifindex = (int)if_nametoindex("lo");
	s->state = state;
	s->started = time(NULL);
	s->policy_version = tw_policy_version(d->pol);
	s->client = (struct tw_client){ .slot = s->slot,
					.ifindex = s->ifindex,
					.tenant = sub->tenant,
					.profile = sub->profiles[0],
					.state = state,
					.naddrs = 1 };
	tw_addr_parse(addr, &s->client.addrs[0]);
	if (!ASSERT_OK(tw_dp_client_add(d->dp, &s->client), "client add"))
		return NULL;
	return s;
}

static int find_disconnect(const struct tw_record *rec, const char *json, size_t len, void *ctx)
{
	if (rec->kind == TW_REC_DISCONNECT && rec->term_cause == TW_TERM_ADMIN_RESET &&
	    !strcmp(rec->subject, "alice"))
		++*(int *)ctx;
	return 0;
}

static uint32_t slot_state(struct tw_daemon *d, uint32_t slot)
{
	struct tw_slot sl = {};

	if (tw_dp_slot_read(d->dp, slot, &sl))
		return ~0u;
	return sl.state;
}

void test_polstream_maps(void)
{
	struct tw_dp_opts o = { .l3_off = 0, .max_clients = 64, .max_flows = 256 };
	char dir[] = "/tmp/tw_polmaps.XXXXXX", path[128], err[256], cmd[160];
	struct tw_journal_opts jo = { .node_id = "node-fra-2", .reserve_bytes = 64 << 10 };
	char pin_root[64];
	struct tw_daemon *d = calloc(1, sizeof(*d));
	struct tw_polstream *ps = NULL;
	struct tw_session *alice, *bob;
	uint32_t alice_slot, bob_slot;
	struct tw_slot before, after;
	char *cache = NULL;
	size_t clen = 0;
	FILE *f;

	if (!ASSERT_OK_PTR(d, "calloc") || !test__need_root() || !test__need_bpffs())
		goto out_free;
	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		goto out_free;
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/tw-polmaps-%d", (int)getpid());
	o.pin_root = pin_root;
	d->dp = tw_dp_open(&o);
	if (!ASSERT_OK_PTR(d->dp, "dp open"))
		goto out;
	snprintf(d->node, sizeof(d->node), "node-fra-2");
	snprintf(d->cfg.policy_cache_path, sizeof(d->cfg.policy_cache_path), "%s/policy.json", dir);
	snprintf(d->cfg.portal.policy_pubkey[0], sizeof(d->cfg.portal.policy_pubkey[0]),
		 "%s/policy.pub", dir);
	d->cfg.portal.npolicy_pubkeys = 1;
	d->cfg.confirm_timeout_s = 300;
	f = fopen(d->cfg.portal.policy_pubkey[0], "w");
	if (!ASSERT_OK_PTR(f, "key file"))
		goto out;
	fputs(pub_pem, f);
	fclose(f);
	signer = tw_sig_key_from_pem(priv_pem, strlen(priv_pem), true, "priv", err, sizeof(err));
	snprintf(path, sizeof(path), "%s/journal.db", dir);
	d->jr = tw_journal_open(path, &jo);
	snprintf(path, sizeof(path), "%s/sessions.db", dir);
	d->sdb = tw_sessdb_open(path);
	d->ss = tw_sessions_new(64);
	d->adm = tw_adm_new();
	if (!ASSERT_OK_PTR(signer, err) || !ASSERT_OK_PTR(d->jr, "journal") ||
	    !ASSERT_OK_PTR(d->sdb, "sessdb") || !ASSERT_OK_PTR(d->ss, "sessions") ||
	    !ASSERT_OK_PTR(d->adm, "admission"))
		goto out;
	ps = tw_polstream_new_sink(d, &real_sink);
	if (!ASSERT_OK_PTR(ps, "polstream"))
		goto out;

	if (!ASSERT_OK(feed_signed(ps, snap, "node-fra-2"), "snapshot"))
		goto out;
	alice = add_session(d, "alice", TW_STATE_PERMIT, "10.8.0.2");
	bob = add_session(d, "bob", TW_STATE_SANDBOX, "10.8.0.3");
	if (!alice || !bob)
		goto out;
	alice_slot = alice->slot;
	bob_slot = bob->slot;

	/* a confirmation at the portal: bob's client leaves the sandbox */
	ASSERT_OK(feed_signed(ps, confirm_bob, "node-fra-2"), "delta 1043");
	ASSERT_EQ(slot_state(d, bob_slot), TW_STATE_PERMIT, "bob: sandbox -> permit in tw1_slots");

	/* a revocation signed for another node: refused, maps unchanged */
	ASSERT_OK(tw_dp_slot_read(d->dp, alice_slot, &before), "slot before");
	ASSERT_EQ(feed_signed(ps, revoke_alice, "node-ams-1"), NGHTTP2_PROTOCOL_ERROR,
		  "badly signed revocation refused");
	ASSERT_OK(tw_dp_slot_read(d->dp, alice_slot, &after), "slot after");
	ASSERT_TRUE(!memcmp(&before, &after, sizeof(before)), "alice's slot unchanged");
	ASSERT_EQ(after.state, TW_STATE_PERMIT, "alice still permitted");
	ASSERT_OK_PTR(tw_sessions_find(d->ss, "alice"), "alice's session lives");
	ASSERT_EQ(tw_policy_version(d->pol), 1043, "version kept");

	/* the same revocation, correctly signed, on a new stream */
	tw_polstream_reset_lines(ps);
	ASSERT_OK(feed_signed(ps, revoke_alice, "node-fra-2"), "delta 1044");
	ASSERT_EQ(slot_state(d, alice_slot), TW_STATE_FREE, "alice's slot freed in tw1_slots");
	ASSERT_TRUE(!tw_sessions_find(d->ss, "alice"), "alice's session ended");
	ASSERT_EQ(slot_state(d, bob_slot), TW_STATE_PERMIT, "bob untouched");
	{
		int n = 0;

		tw_journal_flush(d->jr);
		tw_journal_read_since(d->jr, 0, 0, find_disconnect, &n);
		ASSERT_EQ(n, 1, "alice's disconnect record, Admin-Reset");
	}

	/* health records (protocol.md 7) say what the portal confirmed, and when */
	{
		struct tw_record h;
		bool alerted = false;
		char *json;

		tw_health_fill(d, "periodic", NULL, &h);
		ASSERT_EQ(h.policy_version, 1044, "health: policy_version");
		ASSERT_STREQ(h.health.policy_source, "portal", "health: policy_source");
		ASSERT_TRUE(h.health.has & (1u << TW_HI_POLICY_AGE_S), "health: policy_age_s");
		ASSERT_LE(h.health.v[TW_HI_POLICY_AGE_S], 2, "health: confirmed just now");
		ASSERT_EQ(h.health.v[TW_HI_SESSIONS], 1, "health: bob's session");
		ASSERT_GE(h.health.v[TW_HI_CPUS], 1, "health: cpus");
		h.seq = 1;
		h.time_ns = 1;
		snprintf(h.node, sizeof(h.node), "node-fra-2");
		snprintf(h.log_id, sizeof(h.log_id), "%s", tw_journal_log_id(d->jr));
		json = tw_record_to_json(&h, NULL, err, sizeof(err));
		ASSERT_OK_PTR(json, err);
		free(json);
		d->cfg.offline_grace_s = 60;
		ASSERT_EQ(tw_health_link_down(d, time(NULL) - 30, &alerted), 0, "within the grace");
		ASSERT_EQ(tw_health_link_down(d, time(NULL) - 61, &alerted), 1, "alert");
		ASSERT_EQ(tw_health_link_down(d, time(NULL) - 62, &alerted), 0, "once per outage");
	}

	/* the cache: the snapshot and both deltas, replayed to 1044 at a cold start */
	if (ASSERT_OK(tw_read_file(d->cfg.policy_cache_path, &cache, &clen), "cache")) {
		struct tw_daemon *cold = calloc(1, sizeof(*cold));

		ASSERT_EQ(memchr(cache, '\n', clen) != NULL, 1, "more than one line");
		if (ASSERT_OK_PTR(cold, "calloc")) {
			cold->cfg = d->cfg;
			cold->cfg.portal.url[0] = 'x'; /* a portal: no policy file */
			cold->dp = d->dp;
			tw_polsrc_cold_start(cold);
			if (ASSERT_OK_PTR(cold->pol, "cold start from the cache")) {
				const struct tw_subject *a =
					tw_policy_subject(cold->pol, TW_SUBJ_IPSEC_ID, "alice");

				ASSERT_EQ(tw_policy_version(cold->pol), 1044, "cached version");
				ASSERT_TRUE(a && a->state == TW_SUBJ_REVOKED, "alice revoked");
				ASSERT_EQ(cold->pol_source, TW_POLSRC_CACHE, "source");
				ASSERT_EQ(cold->pol_loaded, 0, "unconfirmed: stale");
				ASSERT_EQ(cold->pol_cache_deltas, 2, "two deltas replayed");
			}
			tw_policy_free(cold->pol);
			free(cold);
		}
	}

	/* compaction: at TW_PS_CACHE_DELTAS deltas the node asks for a snapshot (since=0)
	 * and rewrites the cache with it, without installing it again */
	{
		const struct tw_policy *pol = d->pol;

		d->pol_cache_deltas = TW_PS_CACHE_DELTAS - 1;
		tw_polstream_reset_lines(ps);
		ASSERT_EQ(feed_signed(ps, add_carol, "node-fra-2"), NGHTTP2_CANCEL,
			  "delta applied, stream ended for a snapshot");
		ASSERT_EQ(ps->retry, TW_RETRY_NOW, "at once");
		ASSERT_EQ(tw_polstream_since(ps), 0, "since=0");
		ASSERT_EQ(tw_policy_version(d->pol), 1045, "delta applied");
		tw_polstream_reset_lines(ps);
		ASSERT_OK(feed_signed(ps, snap1045, "node-fra-2"), "snapshot at 1045");
		ASSERT_TRUE(d->pol == pol, "not installed again");
		ASSERT_EQ(d->pol_cache_deltas, 0, "cache compacted");
		ASSERT_EQ(tw_polstream_since(ps), 1045, "since = ours again");
		free(cache);
		cache = NULL;
		if (ASSERT_OK(tw_read_file(d->cfg.policy_cache_path, &cache, &clen), "cache"))
			ASSERT_TRUE(clen == strlen(snap1045) && !memcmp(cache, snap1045, clen),
				    "the cache is the snapshot line");
	}

	/* a delta that edits a profile reaches its allowlist in tw1_acl */
	{
		uint32_t num = tw_policy_profile(d->pol, "employees")->num;

		ASSERT_OK(acl_has(d->dp, num, "10.20.1.1"), "10.20/16 allowed");
		ASSERT_EQ(acl_has(d->dp, num, "10.30.1.1"), -ENOENT, "10.30/16 not yet");
		ASSERT_OK(feed_signed(ps, widen, "node-fra-2"), "delta 1046");
		ASSERT_OK(acl_has(d->dp, num, "10.30.1.1"), "10.30/16 allowed after the delta");
	}

	/* protocol.md 8: a local confirmation holds until the portal speaks again */
	ASSERT_OK(feed_signed(ps, erin_needs, "node-fra-2"), "delta 1047");
	ASSERT_EQ(erin_connects(d), TW_STATE_SANDBOX, "erin needs confirmation");
	ASSERT_OK(tw_adm_confirm(d, "erin"), "tunwarden confirm erin");
	erin_leaves(d);
	ASSERT_EQ(erin_connects(d), TW_STATE_PERMIT, "erin comes back confirmed locally");
	erin_leaves(d);
	ASSERT_OK(feed_signed(ps, add_frank, "node-fra-2"), "delta 1048");
	ASSERT_EQ(erin_connects(d), TW_STATE_SANDBOX, "after a bundle the portal's state wins");
out:
	tw_polstream_release(ps);
	tw_sig_key_free(signer);
	if (d->jr)
		tw_journal_close(d->jr);
	tw_sessdb_close(d->sdb);
	tw_sessions_free(d->ss);
	tw_adm_free(d->adm);
	tw_policy_free(d->pol);
	tw_dp_close(d->dp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", pin_root, dir);
	if (system(cmd) != 0)
		test__diag("could not remove %s", dir);
out_free:
	free(cache);
	free(d);
}
