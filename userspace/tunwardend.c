// SPDX-License-Identifier: GPL-2.0-only
/*
 * tunwardend: the controller daemon. It keeps the BPF maps in line with the
 * cached subject policy, answers the OpenVPN hook on its control socket,
 * journals connect/disconnect/interim records, ends sessions the policy no
 * longer allows (OpenVPN management `kill`), and attaches to tunnel
 * interfaces as they appear (netlink link events).
 *
 * One thread, one epoll loop: signalfd (HUP reload, TERM/INT stop), a 1 s
 * timerfd (interims, confirmation deadlines, watchdog, status file), the
 * control socket and its clients, and the rtnetlink link-event socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <systemd/sd-daemon.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>

#include "config.h"
#include "ctl.h"
#include "journal.h"
#include "log.h"
#include "policy.h"
#include "record.h"
#include "session.h"
#include "sessdb.h"
#include "tw_dp.h"

#define MAX_CLIENTS_CONN 64
#define MAX_BANS	 4096

struct conn {
	int fd;
	uid_t uid;
	gid_t gid;
	struct tw_ctl_frame *fr;
};

/* The node's own memory of unconfirmed attempts and bans, per subject. */
struct attempt {
	char subject[TW_REC_SUBJECT_MAX];
	time_t times[16];
	uint32_t n;
	time_t banned_until;
	bool confirmed; /* confirmed on this node (tunwarden confirm) */
	uint8_t real_family, real_addr[16];
};

struct daemon {
	struct tw_config cfg;
	const char *cfg_path;
	struct tw_dp *dp;
	struct tw_journal *jr;
	struct tw_policy *pol;
	time_t pol_loaded; /* when the cached policy was last fetched/read */
	struct tw_sessions *ss;
	struct tw_sessdb *sdb;
	int ep, sfd, tfd, lfd, mfd;
	struct nl_sock *nl;
	struct conn conns[MAX_CLIENTS_CONN];
	struct attempt *att;
	uint32_t natt;
	char node[TW_REC_NODE_MAX];
	bool stop;
	uint64_t nconnect, ndeny;
	uid_t hook_uid; /* (uid_t)-1: none besides root */
	gid_t hook_gid;
};

/* ------------------------------------------------------------ policy */

static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EIO;
	}
	*buf = malloc((size_t)n + 1);
	if (!*buf) {
		fclose(f);
		return -ENOMEM;
	}
	*len = fread(*buf, 1, (size_t)n, f);
	(*buf)[*len] = '\0';
	fclose(f);
	return 0;
}

static int write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[TW_CFG_PATH_MAX + 8];
	FILE *f;
	int err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len || fflush(f) || fsync(fileno(f)))
		err = -EIO;
	if (fclose(f) && !err)
		err = -EIO;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static void push_profiles(struct daemon *d)
{
	for (uint32_t num = 1; num < TW_MAX_PROFILES; num++) {
		const struct tw_profile *p = tw_policy_profile_by_num(d->pol, num);

		if (!p)
			continue;
		if (tw_dp_profile_set(d->dp, num, p->rules, p->nrules))
			tw_err("profile %s: %s (its previous allowlist stays)", p->node.id,
			       tw_dp_errstr(d->dp));
	}
}

static void session_end(struct daemon *d, struct tw_session *s, uint32_t cause, bool kill);
static void session_save(struct daemon *d, const struct tw_session *s);

/* The policy changed: flip every live session the new policy disagrees with. */
static void reconcile_sessions(struct daemon *d)
{
	for (uint32_t slot = 0; slot < tw_sessions_nslots(d->ss); slot++) {
		struct tw_session *s = tw_sessions_by_slot(d->ss, slot);
		const struct tw_subject *sub;

		if (!s)
			continue;
		sub = tw_policy_subject(d->pol, s->kind, s->subject);
		if (!sub || sub->state == TW_SUBJ_DISABLED || sub->state == TW_SUBJ_REVOKED ||
		    !tw_subject_has_profile(sub, s->client.profile)) {
			tw_info("subject %s: no longer allowed by policy %llu, ending its session",
				s->subject, (unsigned long long)tw_policy_version(d->pol));
			session_end(d, s, TW_TERM_ADMIN_RESET, true);
			continue;
		}
		if (sub->state == TW_SUBJ_ENABLED && s->state == TW_STATE_SANDBOX) {
			if (!tw_dp_client_set_state(d->dp, s->slot, TW_STATE_PERMIT)) {
				s->state = TW_STATE_PERMIT;
				s->confirm_deadline = 0;
				session_save(d, s);
				tw_info("subject %s: confirmed, sandbox -> permit", s->subject);
			}
		}
	}
}

/* Load the policy file; on any error the last good policy stays in force. */
static int policy_reload(struct daemon *d)
{
	char err[512] = "", cache[TW_CFG_PATH_MAX];
	struct tw_policy *np;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_file(d->cfg.policy_file, &buf, &len);
	if (rc) {
		tw_err("policy %s: %s (keeping policy version %llu)", d->cfg.policy_file,
		       strerror(-rc), (unsigned long long)(d->pol ? tw_policy_version(d->pol) : 0));
		return rc;
	}
	np = d->pol ? tw_policy_parse_next(d->pol, buf, len, err, sizeof(err)) :
		      tw_policy_parse(buf, len, err, sizeof(err));
	if (!np) {
		rc = -errno;
		if (rc == -ESTALE && d->pol && !err[0])
			snprintf(err, sizeof(err), "version not newer than %llu",
				 (unsigned long long)tw_policy_version(d->pol));
		tw_err("policy %s: %s (keeping version %llu)", d->cfg.policy_file,
		       err[0] ? err : strerror(-rc),
		       (unsigned long long)(d->pol ? tw_policy_version(d->pol) : 0));
		free(buf);
		return rc;
	}
	/* kept on disk for a cold start without the source */
	snprintf(cache, sizeof(cache), "%s", d->cfg.policy_cache_path);
	if (cache[0] && write_atomic(cache, buf, len))
		tw_warn("policy cache %s: cannot write", cache);
	free(buf);
	tw_policy_free(d->pol);
	d->pol = np;
	d->pol_loaded = time(NULL);
	tw_info("policy version %llu: %zu subjects, %zu profiles",
		(unsigned long long)tw_policy_version(np), tw_policy_nsubjects(np),
		tw_policy_nprofiles(np));
	push_profiles(d);
	reconcile_sessions(d);
	{
		/* connections admitted under the old allowlists that the new
		 * ones refuse end now, not when they go idle */
		int n = tw_dp_flows_revalidate(d->dp);

		if (n > 0)
			tw_info("policy %llu: %d admitted connections no longer allowed, ended",
				(unsigned long long)tw_policy_version(np), n);
		else if (n < 0)
			tw_err("%s", tw_dp_errstr(d->dp));
	}
	return 0;
}

static void policy_cold_start(struct daemon *d)
{
	char err[512] = "", *buf = NULL;
	size_t len = 0;

	if (!policy_reload(d))
		return;
	if (!d->cfg.policy_cache_path[0] || read_file(d->cfg.policy_cache_path, &buf, &len))
		return;
	d->pol = tw_policy_parse(buf, len, err, sizeof(err));
	free(buf);
	if (!d->pol) {
		tw_err("policy cache %s: %s", d->cfg.policy_cache_path, err);
		return;
	}
	/* the cache's age is unknown: treat it as old so offline mode applies */
	d->pol_loaded = 0;
	tw_warn("using cached policy version %llu", (unsigned long long)tw_policy_version(d->pol));
	push_profiles(d);
}

/* ------------------------------------------------------------ records */

static void rec_from_session(struct daemon *d, const struct tw_session *s, uint32_t kind,
			     struct tw_record *r)
{
	struct timespec ts;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_REALTIME, &ts);
	r->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	r->kind = kind;
	snprintf(r->session, sizeof(r->session), "%s", s->id);
	snprintf(r->subject, sizeof(r->subject), "%s", s->subject);
	snprintf(r->tenant, sizeof(r->tenant), "%s", s->tenant);
	snprintf(r->profile, sizeof(r->profile), "%s", s->profile);
	for (int i = 0; i < s->client.naddrs; i++) {
		if (s->client.addrs[i].family == TW_FAM_V4) {
			r->has_tun4 = true;
			memcpy(r->tun4, s->client.addrs[i].addr, 4);
		} else {
			r->has_tun6 = true;
			memcpy(r->tun6, s->client.addrs[i].addr, 16);
		}
	}
	r->real_family = s->real_family;
	memcpy(r->real_addr, s->real_addr, 16);
	r->real_port = s->real_port;
	r->policy_version = s->policy_version;
}

static void rec_counters(struct tw_record *r, const struct tw_client_ctr *c)
{
	r->has_counters = true;
	r->ctr.from_bytes = c->from_bytes;
	r->ctr.from_pkts = c->from_pkts;
	r->ctr.to_bytes = c->to_bytes;
	r->ctr.to_pkts = c->to_pkts;
	r->ctr.drop_bytes = c->drop_bytes;
	for (int i = 0; i < TW_DROP__MAX; i++) {
		r->ctr.drops[i] = c->drops[i];
		r->ctr.drop_pkts += c->drops[i];
	}
}

static int journal_put(struct daemon *d, struct tw_record *r, bool durable)
{
	int err = tw_journal_append(d->jr, r, durable);

	if (err)
		tw_err("journal: %s record for %s: %s", tw_record_kind_name(r->kind), r->subject,
		       tw_journal_errstr(d->jr));
	return err;
}

/* Counters of a live session, kept monotonic even if a read comes back short. */
static void session_counters(struct daemon *d, struct tw_session *s)
{
	struct tw_client_ctr c;

	if (tw_dp_counters_read(d->dp, s->slot, 1, &c))
		return;
	if (c.from_bytes >= s->last.from_bytes && c.to_bytes >= s->last.to_bytes)
		s->last = c;
}

/* ----------------------------------------------------------- sessions */

static void session_save(struct daemon *d, const struct tw_session *s)
{
	int err = tw_sessdb_put(d->sdb, s);

	if (err)
		tw_err("session table: cannot store %s: %s (a restart would forget it)", s->subject,
		       tw_sessdb_errstr(d->sdb));
}

static int restore_one(const struct tw_session *s, void *ctx)
{
	struct daemon *d = ctx;
	struct tw_slot sl;
	int err;

	/* only what the pinned dataplane still holds is live */
	if (tw_dp_slot_read(d->dp, s->slot, &sl) || sl.state == TW_STATE_FREE) {
		tw_sessdb_del(d->sdb, s->slot);
		return -ENOENT;
	}
	err = tw_sessions_restore(d->ss, s);
	if (err) {
		tw_warn("session table: slot %u (%s) not restored: %s", s->slot, s->subject,
			strerror(-err));
		return err;
	}
	return 0;
}

static void sessions_restore(struct daemon *d)
{
	int n = tw_sessdb_load(d->sdb, restore_one, d);

	if (n < 0)
		tw_err("session table: %s", tw_sessdb_errstr(d->sdb));
	else if (n)
		tw_info("restored %d live sessions from the session table", n);
}

/* One management connection: its lines, up to a terminating line, into @buf. */
static int mgmt_cmd(int fd, const char *cmd, char *buf, size_t len)
{
	size_t have = 0;
	ssize_t n;

	if (write(fd, cmd, strlen(cmd)) < 0)
		return -errno;
	while (have < len - 1 && (n = read(fd, buf + have, len - 1 - have)) > 0) {
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, "\nEND") || strstr(buf, "SUCCESS:") || strstr(buf, "ERROR:"))
			return 0;
	}
	buf[have] = '\0';
	return n < 0 ? -errno : -EIO;
}

/*
 * End @cn's OpenVPN session. `client-kill CID RESTART|HALT` tells the client
 * at once (cc-exit), so it reconnects (RESTART: an unconfirmed attempt may be
 * retried and counted) or stops (HALT: revoked); the CID comes from
 * `status 3`. `kill CN` is the fallback for servers that do not list it.
 */
static void ovpn_kill(struct daemon *d, const char *cn, bool halt)
{
	for (uint32_t i = 0; i < d->cfg.novpn_mgmt; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		struct timeval tv = { .tv_sec = 1 };
		char cmd[300], *buf, *line, *save = NULL;
		long cid = -1;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), col = -1;

		buf = malloc(1 << 20);
		if (fd < 0 || !buf) {
			free(buf);
			if (fd >= 0)
				close(fd);
			continue;
		}
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->cfg.ovpn_mgmt[i]);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
		    mgmt_cmd(fd, "status 3\n", buf, 1 << 20)) {
			tw_warn("openvpn management %s: %s", sa.sun_path, strerror(errno));
			goto next;
		}
		for (line = strtok_r(buf, "\r\n", &save); line;
		     line = strtok_r(NULL, "\r\n", &save)) {
			char *f[16], *fs = NULL, *tok;
			int nf = 0;

			for (tok = strtok_r(line, "\t", &fs); tok && nf < 16;
			     tok = strtok_r(NULL, "\t", &fs))
				f[nf++] = tok;
			if (nf > 2 && !strcmp(f[0], "HEADER") && !strcmp(f[1], "CLIENT_LIST")) {
				for (int k = 2; k < nf; k++)
					if (!strcmp(f[k], "Client ID"))
						col = k - 1;
			} else if (nf > 1 && !strcmp(f[0], "CLIENT_LIST") && !strcmp(f[1], cn) &&
				   col > 0 && col < nf) {
				cid = strtol(f[col], NULL, 10);
			}
		}
		if (cid >= 0)
			snprintf(cmd, sizeof(cmd), "client-kill %ld %s\n", cid,
				 halt ? "HALT" : "RESTART");
		else
			snprintf(cmd, sizeof(cmd), "kill %s\n", cn);
		if (mgmt_cmd(fd, cmd, buf, 4096) == 0 && strstr(buf, "SUCCESS:"))
			tw_info("openvpn %s: ended %s's session (%s)", sa.sun_path, cn,
				cid >= 0 ? (halt ? "client-kill HALT" : "client-kill RESTART") :
					   "kill");
		else
			tw_dbg("openvpn %s: %s: %s", sa.sun_path, cmd, buf);
		if (write(fd, "quit\n", 5) < 0)
			tw_dbg("openvpn %s: quit: %s", sa.sun_path, strerror(errno));
next:
		close(fd);
		free(buf);
	}
}

static void session_end(struct daemon *d, struct tw_session *s, uint32_t cause, bool kill)
{
	struct tw_record r;

	/* stop traffic first, then account, then tell OpenVPN */
	tw_dp_client_set_state(d->dp, s->slot, TW_STATE_BANNED);
	session_counters(d, s);
	rec_from_session(d, s, TW_REC_DISCONNECT, &r);
	rec_counters(&r, &s->last);
	r.term_cause = cause;
	journal_put(d, &r, true);
	tw_dp_client_remove(d->dp, &s->client);
	if (kill && s->kind == TW_SUBJ_CN)
		/* unconfirmed: may come back (and count towards a ban); else stop */
		ovpn_kill(d, s->subject, cause != TW_TERM_SESSION_TIMEOUT);
	tw_sessdb_del(d->sdb, s->slot);
	tw_sessions_del(d->ss, s);
}

static struct attempt *attempt_get(struct daemon *d, const char *subject, bool create)
{
	for (uint32_t i = 0; i < d->natt; i++)
		if (!strcmp(d->att[i].subject, subject))
			return &d->att[i];
	if (!create || d->natt >= MAX_BANS)
		return NULL;
	memset(&d->att[d->natt], 0, sizeof(d->att[0]));
	snprintf(d->att[d->natt].subject, sizeof(d->att[0].subject), "%s", subject);
	return &d->att[d->natt++];
}

/* An unconfirmed sandbox session ended: N of them in the window ban the
 * subject and its real source address (uplink XDP). */
static void note_unconfirmed(struct daemon *d, const struct tw_session *s)
{
	struct attempt *a = attempt_get(d, s->subject, true);
	time_t now = time(NULL);
	uint32_t recent = 0;

	if (!a || !d->cfg.ban_threshold)
		return;
	a->times[a->n++ % 16] = now;
	a->real_family = s->real_family;
	memcpy(a->real_addr, s->real_addr, 16);
	for (uint32_t i = 0; i < 16 && i < a->n; i++)
		if (now - a->times[i] <= (time_t)d->cfg.ban_window_s)
			recent++;
	if (recent < d->cfg.ban_threshold)
		return;
	a->banned_until = now + (time_t)d->cfg.ban_duration_s;
	a->n = 0;
	if (a->real_family) {
		struct tw_addr ra = { .family = a->real_family };

		memcpy(ra.addr, a->real_addr, 16);
		if (tw_dp_ban_add(d->dp, &ra, a->real_family == TW_FAM_V4 ? 32 : 128,
				  d->cfg.ban_duration_s * 1000000000ull))
			tw_err("ban of %s's source: %s", s->subject, tw_dp_errstr(d->dp));
	}
	{
		struct tw_record r;

		rec_from_session(d, s, TW_REC_BAN, &r);
		snprintf(r.detail, sizeof(r.detail),
			 "%u unconfirmed attempts in %llu s: banned for %llu s", recent,
			 (unsigned long long)d->cfg.ban_window_s,
			 (unsigned long long)d->cfg.ban_duration_s);
		journal_put(d, &r, true);
	}
	tw_warn("subject %s banned for %llu s after %u unconfirmed attempts", s->subject,
		(unsigned long long)d->cfg.ban_duration_s, recent);
}

static const char *jstr(json_t *env, const char *k)
{
	const char *v = json_string_value(json_object_get(env, k));

	return v ? v : "";
}

static json_t *op_connect(struct daemon *d, json_t *req)
{
	json_t *env = json_object_get(req, "env");
	const char *cn = jstr(env, "common_name"), *dev = jstr(env, "dev");
	struct tw_decision dec;
	struct tw_session *s, *old;
	struct attempt *a;
	struct tw_record r;
	struct tw_addr ra;
	int ifindex, err;
	json_t *resp;

	if (!json_is_object(env) || !cn[0] || !dev[0])
		return tw_ctl_error("connect: env needs common_name and dev");
	ifindex = (int)if_nametoindex(dev);
	if (!ifindex)
		return tw_ctl_error("connect: unknown interface '%s'", dev);
	a = attempt_get(d, cn, false);
	tw_decide(d->pol, &d->cfg, TW_SUBJ_CN, cn, dev, (uint64_t)(time(NULL) - d->pol_loaded),
		  time(NULL), a ? a->banned_until : 0, &dec);
	/* OpenVPN ends a sandboxed session at its session-timeout even after a
	 * local confirmation; the reconnect must then be admitted as confirmed */
	if (dec.verdict == TW_VERDICT_SANDBOX && a && a->confirmed && !dec.offline) {
		dec.verdict = TW_VERDICT_PERMIT;
		snprintf(dec.reason, sizeof(dec.reason), "confirmed locally");
	}
	d->nconnect++;
	if (dec.verdict == TW_VERDICT_DENY) {
		d->ndeny++;
		tw_info("connect %s on %s: deny (%s, policy %llu)", cn, dev, dec.reason,
			(unsigned long long)dec.policy_version);
		goto answer;
	}
	old = tw_sessions_find(d->ss, cn);
	if (old)
		session_end(d, old, TW_TERM_PORT_PREEMPTED, false);
	s = tw_sessions_add(d->ss, cn);
	if (!s) {
		dec.verdict = TW_VERDICT_DENY;
		snprintf(dec.reason, sizeof(dec.reason), "no free session slot: %s",
			 strerror(errno));
		goto answer;
	}
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		/* node-unique: time of connect and slot; the node is in every record */
		snprintf(s->id, sizeof(s->id), "%lx%05lx-%u", (long)ts.tv_sec, ts.tv_nsec / 10000,
			 s->slot);
	}
	s->kind = TW_SUBJ_CN;
	snprintf(s->ifname, sizeof(s->ifname), "%s", dev);
	s->ifindex = ifindex;
	s->started = time(NULL);
	s->last_interim = s->started;
	s->policy_version = dec.policy_version;
	s->state = dec.verdict == TW_VERDICT_SANDBOX ? TW_STATE_SANDBOX : TW_STATE_PERMIT;
	if (dec.verdict == TW_VERDICT_SANDBOX)
		s->confirm_deadline = s->started + (time_t)dec.confirm_timeout_s;
	{
		const struct tw_tenant *t = tw_policy_tenant_by_num(d->pol, dec.tenant);
		const struct tw_profile *p = tw_policy_profile_by_num(d->pol, dec.profile);

		snprintf(s->tenant, sizeof(s->tenant), "%s", t ? t->node.id : "");
		snprintf(s->profile, sizeof(s->profile), "%s", p ? p->node.id : "");
	}
	if (!tw_addr_parse(jstr(env, "trusted_ip"), &ra) ||
	    !tw_addr_parse(jstr(env, "trusted_ip6"), &ra)) {
		s->real_family = ra.family;
		memcpy(s->real_addr, ra.addr, 16);
		s->real_port = (uint16_t)atoi(jstr(env, "trusted_port"));
	}
	s->client = (struct tw_client){ .slot = s->slot,
					.ifindex = ifindex,
					.tenant = dec.tenant,
					.profile = dec.profile,
					.state = s->state };
	if (!tw_addr_parse(jstr(env, "pool_ip"), &s->client.addrs[s->client.naddrs]))
		s->client.naddrs++;
	if (!tw_addr_parse(jstr(env, "pool_ip6"), &s->client.addrs[s->client.naddrs]))
		s->client.naddrs++;
	if (!s->client.naddrs) {
		tw_sessions_del(d->ss, s);
		return tw_ctl_error("connect %s: no tunnel address (pool_ip/pool_ip6)", cn);
	}
	err = tw_dp_client_add(d->dp, &s->client);
	if (err) {
		tw_err("connect %s: %s", cn, tw_dp_errstr(d->dp));
		tw_sessions_del(d->ss, s);
		dec.verdict = TW_VERDICT_DENY;
		snprintf(dec.reason, sizeof(dec.reason), "dataplane: %s", tw_dp_errstr(d->dp));
		goto answer;
	}
	/* durable before OpenVPN hears the answer */
	rec_from_session(d, s, TW_REC_CONNECT, &r);
	snprintf(r.detail, sizeof(r.detail), "%s: %s", tw_verdict_name(dec.verdict), dec.reason);
	if (journal_put(d, &r, true)) {
		tw_dp_client_remove(d->dp, &s->client);
		tw_sessions_del(d->ss, s);
		return tw_ctl_error("connect %s: journal unavailable, refusing", cn);
	}
	session_save(d, s);
	tw_info("connect %s on %s slot %u: %s (%s, policy %llu)", cn, dev, s->slot,
		tw_verdict_name(dec.verdict), dec.reason, (unsigned long long)dec.policy_version);
	resp = json_pack("{s:b,s:s,s:s,s:s,s:I}", "ok", 1, "verdict", tw_verdict_name(dec.verdict),
			 "reason", dec.reason, "session", s->id, "policy_version",
			 (json_int_t)dec.policy_version);
	if (dec.verdict == TW_VERDICT_SANDBOX)
		json_object_set_new(resp, "session_timeout",
				    json_integer((json_int_t)dec.confirm_timeout_s));
	return resp;
answer:
	return json_pack("{s:b,s:s,s:s,s:I}", "ok", 1, "verdict", tw_verdict_name(dec.verdict),
			 "reason", dec.reason, "policy_version", (json_int_t)dec.policy_version);
}

static json_t *op_disconnect(struct daemon *d, json_t *req)
{
	json_t *env = json_object_get(req, "env");
	const char *cn = jstr(env, "common_name");
	struct tw_session *s = tw_sessions_find(d->ss, cn);
	uint32_t cause = TW_TERM_USER_REQUEST;
	struct tw_addr ra;

	if (!s)
		return json_pack("{s:b,s:s}", "ok", 1, "note", "no live session");
	/*
	 * OpenVPN runs client-disconnect even for a connection its
	 * client-connect refused, and a replaced session's disconnect may come
	 * late: only the disconnect of the live session's own peer ends it.
	 */
	if (s->real_family &&
	    (!tw_addr_parse(jstr(env, "trusted_ip"), &ra) ||
	     !tw_addr_parse(jstr(env, "trusted_ip6"), &ra)) &&
	    (ra.family != s->real_family || memcmp(ra.addr, s->real_addr, 16) ||
	     (uint16_t)atoi(jstr(env, "trusted_port")) != s->real_port)) {
		tw_info("disconnect %s from %s:%s: not the live session's peer, ignored", cn,
			jstr(env, "trusted_ip")[0] ? jstr(env, "trusted_ip") :
						     jstr(env, "trusted_ip6"),
			jstr(env, "trusted_port"));
		return json_pack("{s:b,s:s}", "ok", 1, "note", "not the live session");
	}
	if (s->state == TW_STATE_SANDBOX) {
		note_unconfirmed(d, s);
		/* OpenVPN's own session-timeout (written by the hook) may beat our tick */
		if (s->confirm_deadline && time(NULL) + 2 >= s->confirm_deadline)
			cause = TW_TERM_SESSION_TIMEOUT;
	}
	session_end(d, s, cause, false);
	return json_pack("{s:b}", "ok", 1);
}

static json_t *session_json(struct daemon *d, struct tw_session *s)
{
	static const char *const states[] = { "free", "permit", "sandbox", "banned" };
	json_t *addrs = json_array();
	uint64_t drops = 0;
	char a[INET6_ADDRSTRLEN];

	session_counters(d, s);
	for (int i = 0; i < s->client.naddrs; i++) {
		inet_ntop(s->client.addrs[i].family == TW_FAM_V4 ? AF_INET : AF_INET6,
			  s->client.addrs[i].addr, a, sizeof(a));
		json_array_append_new(addrs, json_string(a));
	}
	for (int i = 0; i < TW_DROP__MAX; i++)
		drops += s->last.drops[i];
	a[0] = '\0';
	if (s->real_family)
		inet_ntop(s->real_family == TW_FAM_V4 ? AF_INET : AF_INET6, s->real_addr, a,
			  sizeof(a));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:i}", "cn",
			 s->subject, "session", s->id, "state", states[s->state & 3], "tenant",
			 s->tenant, "profile", s->profile, "ifname", s->ifname, "addrs", addrs,
			 "real", a, "real_port", s->real_port, "since", (json_int_t)s->started,
			 "from_bytes", (json_int_t)s->last.from_bytes, "to_bytes",
			 (json_int_t)s->last.to_bytes, "from_pkts", (json_int_t)s->last.from_pkts,
			 "to_pkts", (json_int_t)s->last.to_pkts, "drops", (json_int_t)drops, "slot",
			 s->slot);
}

static json_t *op_clients(struct daemon *d, json_t *req)
{
	const char *cn = json_string_value(json_object_get(req, "cn"));
	json_t *arr = json_array();

	for (uint32_t slot = 0; slot < tw_sessions_nslots(d->ss); slot++) {
		struct tw_session *s = tw_sessions_by_slot(d->ss, slot);

		if (s && (!cn || !strcmp(cn, s->subject)))
			json_array_append_new(arr, session_json(d, s));
	}
	if (cn && !json_array_size(arr)) {
		json_decref(arr);
		return tw_ctl_error("no live session for '%s'", cn);
	}
	return json_pack("{s:b,s:o}", "ok", 1, "clients", arr);
}

static json_t *op_counters(struct daemon *d)
{
	struct tw_gctr g[TW_G__MAX];
	json_t *o = json_object();

	if (tw_dp_gcounters_read(d->dp, g)) {
		json_decref(o);
		return tw_ctl_error("read counters: %s", strerror(errno));
	}
	for (int i = 1; i < TW_DROP__MAX; i++)
		json_object_set_new(o, tw_drop_reason_name((uint32_t)i),
				    json_pack("{s:I,s:I}", "pkts", (json_int_t)g[i].pkts, "bytes",
					      (json_int_t)g[i].bytes));
	json_object_set_new(o, "pass_in",
			    json_pack("{s:I,s:I}", "pkts", (json_int_t)g[TW_G_PASS_IN].pkts,
				      "bytes", (json_int_t)g[TW_G_PASS_IN].bytes));
	json_object_set_new(o, "pass_out",
			    json_pack("{s:I,s:I}", "pkts", (json_int_t)g[TW_G_PASS_OUT].pkts,
				      "bytes", (json_int_t)g[TW_G_PASS_OUT].bytes));
	return json_pack("{s:b,s:o}", "ok", 1, "counters", o);
}

static int log_cb(const struct tw_record *rec, const char *json, size_t len, void *ctx)
{
	(void)rec;
	json_array_append_new(ctx, json_loadb(json, len, 0, NULL));
	return 0;
}

static json_t *op_log(struct daemon *d, json_t *req)
{
	json_int_t since = json_integer_value(json_object_get(req, "since"));
	json_t *arr = json_array();
	int err;

	tw_journal_flush(d->jr);
	err = tw_journal_read_since(d->jr, (uint64_t)since, 10000, log_cb, arr);
	if (err < 0) {
		json_decref(arr);
		return tw_ctl_error("journal: %s", tw_journal_errstr(d->jr));
	}
	return json_pack("{s:b,s:o}", "ok", 1, "records", arr);
}

/* ban / unban of a real source address or prefix: the uplink map only */
static json_t *op_addr_ban(struct daemon *d, json_t *req, const char *op, const char *addr)
{
	json_int_t dur = json_integer_value(json_object_get(req, "duration"));
	struct tw_addr a;
	uint8_t plen;
	int err;

	if (tw_prefix_parse(addr, &a, &plen))
		return tw_ctl_error("%s: '%s' is not an address or prefix (host bits must be zero)",
				    op, addr);
	if (!strcmp(op, "ban")) {
		uint64_t secs = dur > 0 ? (uint64_t)dur : d->cfg.ban_duration_s;

		err = tw_dp_ban_add(d->dp, &a, plen, secs * 1000000000ull);
		if (err)
			return tw_ctl_error("ban %s: %s", addr, tw_dp_errstr(d->dp));
		tw_info("source %s banned for %llu s by the operator", addr,
			(unsigned long long)secs);
		return json_pack("{s:b,s:I}", "ok", 1, "until",
				 (json_int_t)time(NULL) + (json_int_t)secs);
	}
	err = tw_dp_ban_remove(d->dp, &a, plen);
	if (err)
		return tw_ctl_error("unban %s: %s", addr,
				    err == -ENOENT ? "not banned" : strerror(-err));
	tw_info("source %s unbanned by the operator", addr);
	return json_pack("{s:b,s:b}", "ok", 1, "removed", 1);
}

static json_t *op_state_change(struct daemon *d, json_t *req, const char *op)
{
	const char *cn = json_string_value(json_object_get(req, "cn"));
	const char *addr = json_string_value(json_object_get(req, "addr"));
	struct tw_session *s = cn ? tw_sessions_find(d->ss, cn) : NULL;

	if (addr && (!strcmp(op, "ban") || !strcmp(op, "unban")))
		return op_addr_ban(d, req, op, addr);

	if (!strcmp(op, "unban")) {
		struct attempt *a = cn ? attempt_get(d, cn, false) : NULL;

		if (!a)
			return tw_ctl_error("'%s' is not banned", cn ? cn : "");
		a->banned_until = 0;
		if (a->real_family) {
			struct tw_addr ra = { .family = a->real_family };

			memcpy(ra.addr, a->real_addr, 16);
			tw_dp_ban_remove(d->dp, &ra, a->real_family == TW_FAM_V4 ? 32 : 128);
		}
		return json_pack("{s:b}", "ok", 1);
	}
	if (!strcmp(op, "ban")) {
		struct attempt *a = cn ? attempt_get(d, cn, true) : NULL;
		json_int_t dur = json_integer_value(json_object_get(req, "duration"));

		if (!a)
			return tw_ctl_error("ban: needs cn");
		a->banned_until = time(NULL) + (dur > 0 ? dur : (json_int_t)d->cfg.ban_duration_s);
		if (s) {
			a->real_family = s->real_family;
			memcpy(a->real_addr, s->real_addr, 16);
			session_end(d, s, TW_TERM_ADMIN_RESET, true);
		}
		return json_pack("{s:b}", "ok", 1);
	}
	if (!s)
		return tw_ctl_error("no live session for '%s'", cn ? cn : "");
	if (!strcmp(op, "kill")) {
		session_end(d, s, TW_TERM_ADMIN_RESET, true);
		return json_pack("{s:b}", "ok", 1);
	}
	/* confirm */
	if (s->state != TW_STATE_SANDBOX)
		return tw_ctl_error("'%s' is not waiting for confirmation", cn);
	if (tw_dp_client_set_state(d->dp, s->slot, TW_STATE_PERMIT))
		return tw_ctl_error("confirm: %s", tw_dp_errstr(d->dp));
	s->state = TW_STATE_PERMIT;
	s->confirm_deadline = 0;
	session_save(d, s);
	{
		struct attempt *a = attempt_get(d, cn, true);

		if (a)
			a->confirmed = true;
	}
	tw_info("subject %s confirmed locally", cn);
	return json_pack("{s:b}", "ok", 1);
}

static json_t *op_status(struct daemon *d)
{
	struct tw_journal_stats st = {};

	tw_journal_stats(d->jr, &st);
	return json_pack("{s:b,s:s,s:I,s:I,s:i,s:I,s:I,s:I,s:s}", "ok", 1, "node", d->node,
			 "policy_version", (json_int_t)(d->pol ? tw_policy_version(d->pol) : 0),
			 "policy_age", (json_int_t)(time(NULL) - d->pol_loaded), "sessions",
			 (int)tw_sessions_count(d->ss), "journal_last_seq", (json_int_t)st.last_seq,
			 "connects", (json_int_t)d->nconnect, "denied", (json_int_t)d->ndeny,
			 "log_id", tw_journal_log_id(d->jr));
}

static json_t *op_detach(struct daemon *d, json_t *req)
{
	const char *ifname = json_string_value(json_object_get(req, "ifname"));
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0;

	for (i = ifs; i && i->if_index; i++)
		if ((!ifname || !strcmp(ifname, "all") || !strcmp(ifname, i->if_name)) &&
		    !tw_dp_detach(d->dp, (int)i->if_index)) {
			tw_info("detached from %s", i->if_name);
			n++;
		}
	if_freenameindex(ifs);
	return json_pack("{s:b,s:i}", "ok", 1, "detached", n);
}

static json_t *dispatch(struct daemon *d, struct conn *c, json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	bool admin = c->uid == 0;

	if (!op)
		return tw_ctl_error("request has no \"op\"");
	if (!strcmp(op, "connect") || !strcmp(op, "disconnect")) {
		/* any local user can reach the socket: only root and the hook's
		 * configured user or group may admit or end sessions */
		if (!admin && (d->hook_uid == (uid_t)-1 || c->uid != d->hook_uid) &&
		    (d->hook_gid == (gid_t)-1 || c->gid != d->hook_gid))
			return tw_ctl_error("%s: permission denied (uid %u is not root or the "
					    "configured hook_user/hook_group)",
					    op, (unsigned)c->uid);
		return !strcmp(op, "connect") ? op_connect(d, req) : op_disconnect(d, req);
	}
	if (!admin)
		return tw_ctl_error("%s: permission denied (uid %u)", op, (unsigned)c->uid);
	if (!strcmp(op, "status"))
		return op_status(d);
	if (!strcmp(op, "clients") || !strcmp(op, "client"))
		return op_clients(d, req);
	if (!strcmp(op, "counters"))
		return op_counters(d);
	if (!strcmp(op, "log"))
		return op_log(d, req);
	if (!strcmp(op, "kill") || !strcmp(op, "confirm") || !strcmp(op, "ban") ||
	    !strcmp(op, "unban"))
		return op_state_change(d, req, op);
	if (!strcmp(op, "reload"))
		return policy_reload(d) ? tw_ctl_error("reload failed: see the daemon log") :
					  json_pack("{s:b}", "ok", 1);
	if (!strcmp(op, "policy"))
		return json_pack("{s:b,s:I,s:i,s:i}", "ok", 1, "version",
				 (json_int_t)(d->pol ? tw_policy_version(d->pol) : 0), "subjects",
				 (int)(d->pol ? tw_policy_nsubjects(d->pol) : 0), "profiles",
				 (int)(d->pol ? tw_policy_nprofiles(d->pol) : 0));
	if (!strcmp(op, "detach"))
		return op_detach(d, req);
	return tw_ctl_error("unknown op '%s'", op);
}

/* ------------------------------------------------------------ control socket */

static void conn_close(struct daemon *d, struct conn *c)
{
	epoll_ctl(d->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->fr);
	c->fd = -1;
	c->fr = NULL;
}

static void conn_reply(struct conn *c, json_t *resp)
{
	/* a large answer (clients, log) outgrows the socket buffer: bounded
	 * partial writes, never an unbounded stall of the loop */
	if (!resp)
		resp = tw_ctl_error("internal error: out of memory");
	if (resp && tw_ctl_send(c->fd, resp, tw_ctl_now_ms() + 2000))
		tw_warn("control client: reply not delivered in 2 s");
	json_decref(resp);
}

static void conn_readable(struct daemon *d, struct conn *c)
{
	char err[256], *line;
	size_t len;
	ssize_t n = tw_ctl_frame_read(c->fr, c->fd);
	int rc;

	if (n <= 0 && n != -EAGAIN) {
		conn_close(d, c);
		return;
	}
	while ((rc = tw_ctl_frame_next(c->fr, &line, &len)) != 0) {
		json_t *req = NULL;

		if (rc < 0) {
			conn_reply(c,
				   tw_ctl_error("request longer than %d bytes", TW_CTL_LINE_MAX));
			continue;
		}
		if (tw_ctl_parse(line, len, &req, err, sizeof(err))) {
			conn_reply(c, tw_ctl_error("%s", err));
			continue;
		}
		conn_reply(c, dispatch(d, c, req));
		json_decref(req);
	}
}

static void conn_accept(struct daemon *d)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int i;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl)) {
		close(fd);
		return;
	}
	for (i = 0; i < MAX_CLIENTS_CONN && d->conns[i].fd >= 0; i++)
		;
	if (i == MAX_CLIENTS_CONN) {
		tw_warn("control socket: too many clients, refusing one");
		close(fd);
		return;
	}
	d->conns[i].fd = fd;
	d->conns[i].uid = cred.uid;
	d->conns[i].gid = cred.gid;
	d->conns[i].fr = malloc(sizeof(*d->conns[i].fr));
	if (!d->conns[i].fr) {
		close(fd);
		d->conns[i].fd = -1;
		return;
	}
	tw_ctl_frame_init(d->conns[i].fr);
	ev.data.u64 = 100 + (uint64_t)i;
	epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev);
}

static int listen_ctl(struct daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[TW_CFG_SUN_PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", d->cfg.socket_path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->cfg.socket_path);
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->lfd < 0)
		return -errno;
	unlink(sa.sun_path);
	if (bind(d->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(d->lfd, 64))
		return -errno;
	/* the hook runs as OpenVPN's user: any local user may connect, the
	 * ops are checked against the peer's credentials */
	chmod(sa.sun_path, 0666);
	return 0;
}

/* ------------------------------------------------------------ interfaces */

static void maybe_attach(struct daemon *d, const char *ifname, int ifindex)
{
	enum tw_attach_mode used;

	if (!tw_config_iface_match(&d->cfg, ifname))
		return;
	if (tw_dp_attach(d->dp, ifindex, d->cfg.attach_mode, &used)) {
		tw_err("attach to %s: %s", ifname, tw_dp_errstr(d->dp));
		return;
	}
	tw_info("enforcing on %s (%s)", ifname, used == TW_ATTACH_TCX ? "tcx" : "cls_bpf");
}

static void attach_existing(struct daemon *d)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	for (i = ifs; i && i->if_index; i++)
		maybe_attach(d, i->if_name, (int)i->if_index);
	if_freenameindex(ifs);
}

static void nl_link_obj(struct nl_object *obj, void *arg)
{
	struct rtnl_link *l = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(l);

	if (name && (rtnl_link_get_flags(l) & IFF_UP))
		maybe_attach(arg, name, rtnl_link_get_ifindex(l));
}

static int nl_link_msg(struct nl_msg *msg, void *arg)
{
	if (nlmsg_hdr(msg)->nlmsg_type == RTM_NEWLINK)
		nl_msg_parse(msg, nl_link_obj, arg);
	return NL_OK;
}

static int link_watch_open(struct daemon *d)
{
	int err;

	d->nl = nl_socket_alloc();
	if (!d->nl)
		return -ENOMEM;
	nl_socket_disable_seq_check(d->nl);
	nl_socket_modify_cb(d->nl, NL_CB_VALID, NL_CB_CUSTOM, nl_link_msg, d);
	err = nl_connect(d->nl, NETLINK_ROUTE);
	if (!err)
		err = nl_socket_add_membership(d->nl, RTNLGRP_LINK);
	if (!err)
		err = nl_socket_set_nonblocking(d->nl);
	return err ? -EIO : 0;
}

/* ------------------------------------------------------------ metrics */

/*
 * Prometheus text exposition on a loopback address: one short HTTP/1.0
 * answer per connection, whatever was asked. Node-wide figures only: a
 * per-client series for 100k clients belongs in the record stream.
 */
static int listen_metrics(struct daemon *d)
{
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa = {};
	socklen_t len;
	int one = 1;

	d->mfd = -1;
	if (!d->cfg.metrics_enabled)
		return 0;
	if (d->cfg.metrics_family == AF_INET) {
		sa.v4.sin_family = AF_INET;
		sa.v4.sin_port = htons(d->cfg.metrics_port);
		memcpy(&sa.v4.sin_addr, d->cfg.metrics_addr, 4);
		len = sizeof(sa.v4);
	} else {
		sa.v6.sin6_family = AF_INET6;
		sa.v6.sin6_port = htons(d->cfg.metrics_port);
		memcpy(&sa.v6.sin6_addr, d->cfg.metrics_addr, 16);
		len = sizeof(sa.v6);
	}
	d->mfd = socket(d->cfg.metrics_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->mfd < 0)
		return -errno;
	setsockopt(d->mfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(d->mfd, (struct sockaddr *)&sa, len) || listen(d->mfd, 16)) {
		int err = -errno;

		close(d->mfd);
		d->mfd = -1;
		return err;
	}
	return 0;
}

/* The exposition body into @f; false when a counter read failed. */
static bool metrics_body(struct daemon *d, FILE *f)
{
	struct tw_journal_stats st = {};
	struct tw_gctr g[TW_G__MAX], u[TW_U__MAX];

	if (tw_dp_gcounters_read(d->dp, g) || tw_dp_ucounters_read(d->dp, u))
		return false;
	tw_journal_stats(d->jr, &st);
	fprintf(f,
		"# HELP tunwarden_sessions Live client sessions.\n# TYPE tunwarden_sessions gauge\n"
		"tunwarden_sessions %u\n",
		tw_sessions_count(d->ss));
	fprintf(f, "# TYPE tunwarden_policy_version gauge\ntunwarden_policy_version %llu\n",
		(unsigned long long)(d->pol ? tw_policy_version(d->pol) : 0));
	fprintf(f, "# TYPE tunwarden_policy_age_seconds gauge\ntunwarden_policy_age_seconds %lld\n",
		(long long)(time(NULL) - d->pol_loaded));
	fprintf(f,
		"# TYPE tunwarden_connects_total counter\ntunwarden_connects_total %llu\n"
		"# TYPE tunwarden_connects_denied_total counter\n"
		"tunwarden_connects_denied_total %llu\n",
		(unsigned long long)d->nconnect, (unsigned long long)d->ndeny);
	fprintf(f, "# HELP tunwarden_drop_packets_total Tunnel packets dropped, by reason.\n"
		   "# TYPE tunwarden_drop_packets_total counter\n");
	for (uint32_t i = 1; i < TW_DROP__MAX; i++)
		fprintf(f, "tunwarden_drop_packets_total{reason=\"%s\"} %llu\n",
			tw_drop_reason_name(i), (unsigned long long)g[i].pkts);
	fprintf(f,
		"# TYPE tunwarden_pass_bytes_total counter\n"
		"tunwarden_pass_bytes_total{dir=\"from_client\"} %llu\n"
		"tunwarden_pass_bytes_total{dir=\"to_client\"} %llu\n",
		(unsigned long long)g[TW_G_PASS_IN].bytes,
		(unsigned long long)g[TW_G_PASS_OUT].bytes);
	fprintf(f,
		"# TYPE tunwarden_pass_packets_total counter\n"
		"tunwarden_pass_packets_total{dir=\"from_client\"} %llu\n"
		"tunwarden_pass_packets_total{dir=\"to_client\"} %llu\n",
		(unsigned long long)g[TW_G_PASS_IN].pkts,
		(unsigned long long)g[TW_G_PASS_OUT].pkts);
	fprintf(f,
		"# TYPE tunwarden_uplink_packets_total counter\n"
		"tunwarden_uplink_packets_total{verdict=\"banned\"} %llu\n"
		"tunwarden_uplink_packets_total{verdict=\"ratelimited\"} %llu\n"
		"tunwarden_uplink_packets_total{verdict=\"handshake\"} %llu\n",
		(unsigned long long)u[TW_U_BANNED].pkts, (unsigned long long)u[TW_U_RATELIMIT].pkts,
		(unsigned long long)u[TW_U_HANDSHAKE].pkts);
	fprintf(f,
		"# TYPE tunwarden_journal_last_seq gauge\ntunwarden_journal_last_seq %llu\n"
		"# TYPE tunwarden_journal_acked_seq gauge\ntunwarden_journal_acked_seq %llu\n"
		"# TYPE tunwarden_journal_bytes gauge\ntunwarden_journal_bytes %llu\n"
		"# TYPE tunwarden_journal_dropped_total counter\n"
		"tunwarden_journal_dropped_total %llu\n",
		(unsigned long long)st.last_seq, (unsigned long long)st.acked_seq,
		(unsigned long long)st.used_bytes, (unsigned long long)st.dropped);
	return true;
}

static void metrics_serve(struct daemon *d)
{
	struct timeval tv = { .tv_sec = 1 };
	char req[1024], hdr[160], *body = NULL;
	size_t n = 0;
	FILE *f;
	bool ok;
	int hl, fd = accept4(d->mfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read(fd, req, sizeof(req)) < 0)
		tw_dbg("metrics: read: %s", strerror(errno));
	/* grows with the body: more drop reasons never truncate the answer */
	f = open_memstream(&body, &n);
	if (!f)
		goto out;
	ok = metrics_body(d, f);
	if (fclose(f) || !ok)
		goto out;
	hl = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
		      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		      n);
	if (write(fd, hdr, (size_t)hl) < 0 || write(fd, body, n) < 0)
		tw_dbg("metrics: write: %s", strerror(errno));
out:
	free(body);
	close(fd);
}

/* ------------------------------------------------------------ timer */

static json_t *op_status(struct daemon *d);

/* The same object `tunwarden status --json` shows, replaced atomically. */
static void write_status(struct daemon *d)
{
	json_t *st;
	char *txt;

	if (!d->cfg.status_path[0])
		return;
	st = op_status(d);
	json_object_set_new(st, "updated", json_integer((json_int_t)time(NULL)));
	txt = json_dumps(st, JSON_INDENT(2));
	json_decref(st);
	if (!txt || write_atomic(d->cfg.status_path, txt, strlen(txt)))
		tw_dbg("status file %s: cannot write", d->cfg.status_path);
	free(txt);
}

static void tick(struct daemon *d)
{
	time_t now = time(NULL);

	for (uint32_t slot = 0; slot < tw_sessions_nslots(d->ss); slot++) {
		struct tw_session *s = tw_sessions_by_slot(d->ss, slot);

		if (!s)
			continue;
		if (s->confirm_deadline && now >= s->confirm_deadline) {
			tw_info("subject %s: not confirmed in time, disconnecting", s->subject);
			note_unconfirmed(d, s);
			session_end(d, s, TW_TERM_SESSION_TIMEOUT, true);
			continue;
		}
		if (d->cfg.interim_interval_s &&
		    now - s->last_interim >= (time_t)d->cfg.interim_interval_s) {
			struct tw_record r;

			session_counters(d, s);
			rec_from_session(d, s, TW_REC_INTERIM, &r);
			rec_counters(&r, &s->last);
			journal_put(d, &r, false);
			s->last_interim = now;
		}
	}
	tw_journal_flush(d->jr);
	if (tw_dp_ban_sweep(d->dp) > 0)
		tw_dbg("expired uplink bans removed");
	write_status(d);
	sd_notify(0, "WATCHDOG=1");
}

/* ------------------------------------------------------------ main */

static int load_config(struct daemon *d)
{
	char err[512] = "", *buf = NULL;
	size_t len = 0;
	int rc = read_file(d->cfg_path, &buf, &len);

	if (rc) {
		fprintf(stderr, "tunwardend: %s: %s\n", d->cfg_path, strerror(-rc));
		return rc;
	}
	rc = tw_config_parse(buf, len, d->cfg_path, &d->cfg, err, sizeof(err));
	free(buf);
	if (rc)
		fprintf(stderr, "tunwardend: %s\n", err);
	return rc;
}

/* [openvpn] hook_user / hook_group: names or numbers, resolved once. */
static int resolve_hook_ids(struct daemon *d)
{
	char *end;

	d->hook_uid = (uid_t)-1;
	d->hook_gid = (gid_t)-1;
	if (d->cfg.hook_user[0]) {
		struct passwd *pw = getpwnam(d->cfg.hook_user);
		unsigned long n = strtoul(d->cfg.hook_user, &end, 10);

		if (pw)
			d->hook_uid = pw->pw_uid;
		else if (!*end)
			d->hook_uid = (uid_t)n;
		else {
			tw_err("%s: [openvpn] hook_user '%s': no such user", d->cfg_path,
			       d->cfg.hook_user);
			return -ENOENT;
		}
	}
	if (d->cfg.hook_group[0]) {
		struct group *gr = getgrnam(d->cfg.hook_group);
		unsigned long n = strtoul(d->cfg.hook_group, &end, 10);

		if (gr)
			d->hook_gid = gr->gr_gid;
		else if (!*end)
			d->hook_gid = (gid_t)n;
		else {
			tw_err("%s: [openvpn] hook_group '%s': no such group", d->cfg_path,
			       d->cfg.hook_group);
			return -ENOENT;
		}
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: tunwardend [-c CONFIG] [--check-config]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "config", required_argument, NULL, 'c' },
					    { "check-config", no_argument, NULL, 'C' },
					    { "help", no_argument, NULL, 'h' },
					    {} };
	struct daemon d = { .cfg_path = TW_CONF_PATH, .lfd = -1, .sfd = -1, .tfd = -1, .mfd = -1 };
	struct tw_journal_opts jo = {};
	struct tw_dp_opts dpo = {};
	struct epoll_event ev;
	bool check_only = false;
	sigset_t mask;
	int opt, rc = EXIT_FAILURE;

	while ((opt = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d.cfg_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		default:
			usage();
			return opt == 'h' ? EXIT_SUCCESS : EXIT_FAILURE;
		}
	}
	if (load_config(&d))
		return EXIT_FAILURE;
	if (check_only) {
		printf("%s: ok\n", d.cfg_path);
		return EXIT_SUCCESS;
	}
	tw_log_init("tunwardend", d.cfg.log_level);
	if (resolve_hook_ids(&d))
		return EXIT_FAILURE;
	for (int i = 0; i < MAX_CLIENTS_CONN; i++)
		d.conns[i].fd = -1;
	if (d.cfg.node_id[0])
		snprintf(d.node, sizeof(d.node), "%s", d.cfg.node_id);
	else if (gethostname(d.node, sizeof(d.node) - 1))
		snprintf(d.node, sizeof(d.node), "node");
	mkdir(d.cfg.state_dir, 0750);

	d.att = calloc(MAX_BANS, sizeof(*d.att));
	if (!d.att)
		goto out;
	dpo.pin_root = d.cfg.pin_root;
	dpo.l3_off = d.cfg.nifaces ? d.cfg.ifaces[0].l3_off : 0;
	d.dp = tw_dp_open(&dpo);
	if (!d.dp) {
		tw_err("cannot load the dataplane: %s", strerror(errno));
		goto out;
	}
	d.ss = tw_sessions_new(TW_MAX_CLIENTS);
	jo.node_id = d.node;
	jo.cap_bytes = d.cfg.journal_max_bytes;
	d.jr = tw_journal_open(d.cfg.journal_path, &jo);
	if (!d.ss || !d.jr) {
		tw_err("journal %s: %s", d.cfg.journal_path, strerror(errno));
		goto out;
	}
	{
		char sp[TW_CFG_PATH_MAX + 16];

		snprintf(sp, sizeof(sp), "%s/sessions.db", d.cfg.state_dir);
		d.sdb = tw_sessdb_open(sp);
		if (!d.sdb) {
			tw_err("session table %s: %s", sp, strerror(errno));
			goto out;
		}
	}
	if (d.cfg.uplink[0]) {
		int ifi = (int)if_nametoindex(d.cfg.uplink);

		for (uint32_t i = 0; i < d.cfg.nvports; i++)
			tw_dp_vport_add(d.dp, d.cfg.vports[i].proto, d.cfg.vports[i].port,
					d.cfg.vports[i].kind);
		tw_dp_uplink_config(d.dp, &d.cfg.ucfg);
		if (!ifi || tw_dp_attach_uplink(d.dp, ifi))
			tw_err("uplink %s: cannot attach (%s)", d.cfg.uplink,
			       ifi ? tw_dp_errstr(d.dp) : "no such interface");
	}
	sessions_restore(&d);
	policy_cold_start(&d);

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d.ep = epoll_create1(EPOLL_CLOEXEC);
	if (d.sfd < 0 || d.tfd < 0 || d.ep < 0 || listen_ctl(&d)) {
		tw_err("setup: %s", strerror(errno));
		goto out;
	}
	{
		struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };

		timerfd_settime(d.tfd, 0, &its, NULL);
	}
	if (listen_metrics(&d))
		tw_err("metrics on %s: %s (metrics off)", d.cfg.metrics_listen, strerror(errno));
	if (link_watch_open(&d))
		tw_warn("no netlink link events: interfaces that appear later are not attached");
	ev.events = EPOLLIN;
	ev.data.u64 = 1;
	epoll_ctl(d.ep, EPOLL_CTL_ADD, d.sfd, &ev);
	ev.data.u64 = 2;
	epoll_ctl(d.ep, EPOLL_CTL_ADD, d.tfd, &ev);
	ev.data.u64 = 3;
	epoll_ctl(d.ep, EPOLL_CTL_ADD, d.lfd, &ev);
	if (d.nl) {
		ev.data.u64 = 4;
		epoll_ctl(d.ep, EPOLL_CTL_ADD, nl_socket_get_fd(d.nl), &ev);
	}
	if (d.mfd >= 0) {
		ev.data.u64 = 5;
		epoll_ctl(d.ep, EPOLL_CTL_ADD, d.mfd, &ev);
	}
	attach_existing(&d);
	sd_notify(0, "READY=1");
	tw_info("ready: node %s, socket %s", d.node, d.cfg.socket_path);

	while (!d.stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(d.ep, evs, 16, -1);

		for (int i = 0; i < n; i++) {
			uint64_t id = evs[i].data.u64;

			if (id == 1) {
				struct signalfd_siginfo si;

				while (read(d.sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						policy_reload(&d);
					else
						d.stop = true;
				}
			} else if (id == 2) {
				uint64_t x;

				if (read(d.tfd, &x, sizeof(x)) == sizeof(x))
					tick(&d);
			} else if (id == 3) {
				conn_accept(&d);
			} else if (id == 4) {
				nl_recvmsgs_default(d.nl);
			} else if (id == 5) {
				metrics_serve(&d);
			} else if (id >= 100 && id < 100 + MAX_CLIENTS_CONN) {
				conn_readable(&d, &d.conns[id - 100]);
			}
		}
	}
	sd_notify(0, "STOPPING=1");
	tw_info("stopping: pinned maps and links stay, enforcement continues");
	rc = EXIT_SUCCESS;
out:
	/* Sessions are not ended on stop: the dataplane keeps enforcing and a
	 * restarted daemon finds the clients in the pinned maps. */
	for (int i = 0; i < MAX_CLIENTS_CONN; i++)
		if (d.conns[i].fd >= 0)
			conn_close(&d, &d.conns[i]);
	if (d.jr)
		tw_journal_close(d.jr);
	if (d.nl)
		nl_socket_free(d.nl);
	tw_policy_free(d.pol);
	tw_sessions_free(d.ss);
	tw_sessdb_close(d.sdb);
	tw_dp_close(d.dp);
	free(d.att);
	if (d.lfd >= 0)
		close(d.lfd);
	if (d.mfd >= 0)
		close(d.mfd);
	return rc;
}
