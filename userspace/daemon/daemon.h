/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every module of tunwardend shares: the configuration, the long-lived
 * objects of the library (dataplane, journal, policy, session table) and the
 * handles of the modules themselves. Each module keeps its own state behind
 * its handle; nothing here is a module's private business.
 *
 * Modules (one header each):
 *   loop.h       event loop (lib/loop.c): descriptors, timers, signals
 *   conf.h       configuration file: load, reload, hook identity
 *   policysrc.h  where the policy comes from (local file, cache; later the portal)
 *   admission.h  connect/disconnect decisions from generic requests, bans, the tick
 *   sessions.h   an admitted session's records, persistence and end
 *   adapter.h    VPN stacks (openvpn.c) behind one small interface
 *   mgmt.h       OpenVPN's management interface, non-blocking, with retries
 *   ctlsrv.h     control socket; ops.c is its op table
 *   links.h      tunnel interfaces: attach as they appear
 *   status.h     status object and file; metrics.h the Prometheus endpoint
 *   fileio.h     whole-file reads (atomic replacement: lib/safefile.h)
 *   portal.h     the portal link (docs/protocol.md): connection and backoff,
 *                h2conn.h its HTTP/2 transport, recstream.h the record
 *                stream, polstream.h the policy stream
 */
#ifndef TW_DAEMON_H
#define TW_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "record.h"

struct tw_loop;
struct tw_dp;
struct tw_journal;
struct tw_policy;
struct tw_sessions;
struct tw_sessdb;
struct tw_admission;
struct tw_ctlsrv;
struct tw_links;
struct tw_metrics;
struct tw_mgmt;
struct tw_portal;

enum tw_policy_source {
	TW_POLSRC_NONE = 0, /* no policy yet: every connect is denied */
	TW_POLSRC_FILE, /* [policy] policy_file */
	TW_POLSRC_CACHE, /* the on-disk copy of the last good policy (cold start) */
	TW_POLSRC_PORTAL, /* the portal's policy stream */
};

struct tw_daemon {
	struct tw_config cfg;
	const char *cfg_path;
	char *cfg_text; /* the file as last applied: reload compares it */
	char node[TW_REC_NODE_MAX];
	time_t started;
	uid_t hook_uid; /* (uid_t)-1: none besides root */
	gid_t hook_gid;

	struct tw_loop *loop;
	struct tw_dp *dp;
	struct tw_journal *jr;
	struct tw_sessions *ss;
	struct tw_sessdb *sdb;

	/* The policy in force; policysrc.c replaces it, everyone reads it. */
	struct tw_policy *pol;
	/* When it was read (file) or last confirmed by the portal (a bundle applied, a
	 * heartbeat or snapshot naming it: docs/protocol.md 8); 0: never, it is stale. */
	time_t pol_loaded;
	enum tw_policy_source pol_source;
	char pol_refused[512]; /* the portal's last refused bundle (protocol.md 5.6); "": none */
	uint32_t pol_cache_deltas; /* delta lines in the policy cache after its snapshot */

	struct tw_admission *adm;
	struct tw_ctlsrv *ctl;
	struct tw_links *links;
	struct tw_metrics *metrics;
	struct tw_mgmt *mgmt; /* openvpn.c: the servers' management interfaces */
	struct tw_portal *portal; /* portal.c: the link; NULL without [portal] url */
};

#endif /* TW_DAEMON_H */
