/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tunwardend's configuration file (/etc/tunwarden/tunwarden.conf): INI-like
 * "[section]" and "key = value" lines, '#' comments. docs/config.md lists
 * every key with its default. The parser is a pure function over a buffer:
 * the daemon reads the file, the tests and the fuzzer hand it bytes.
 *
 * Everything is held in fixed-size members, so a struct tw_config can be
 * copied, compared and dropped without a destructor; tw_config_free() exists
 * so callers need not change if that ever stops being true.
 */
#ifndef TW_CONFIG_H
#define TW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>
#include "tw_dp.h"

#define TW_CONF_PATH "/etc/tunwarden/tunwarden.conf"

#define TW_CFG_PATH_MAX		  256 /* every path we take; unix socket paths must fit 108 */
#define TW_CFG_SUN_PATH_MAX	  108
#define TW_CFG_NAME_MAX		  64 /* node id, profile names */
#define TW_CFG_MAX_IFACES	  64
#define TW_CFG_MAX_IFACE_PROFILES 16
#define TW_CFG_MAX_VPORTS	  64 /* TW_MAX_VPN_PORTS */
#define TW_CFG_MAX_MGMT		  16
#define TW_CFG_MAX_BYTES	  (1 << 20) /* a config file beyond this is a mistake */

enum tw_log_level {
	TW_LOG_ERR = 0,
	TW_LOG_WARN = 1,
	TW_LOG_INFO = 2,
	TW_LOG_DEBUG = 3,
};

enum tw_offline_mode {
	TW_OFFLINE_KNOWN_ONLY = 0, /* admit subjects the cached policy knows, as it says */
	TW_OFFLINE_SANDBOX = 1, /* admit known subjects into SANDBOX only */
};

/* A tunnel interface to attach: an exact name or an fnmatch(3) glob. */
struct tw_cfg_iface {
	char pattern[IFNAMSIZ];
	uint32_t l3_off; /* 0 for layer-3 tunnels; 14 for tap/veth */
	/* Local binding of profiles to this interface, used for profiles whose
	 * policy entry names no interfaces. */
	char profiles[TW_CFG_MAX_IFACE_PROFILES][TW_CFG_NAME_MAX];
	uint32_t nprofiles;
};

struct tw_cfg_vport {
	uint8_t proto; /* IPPROTO_UDP / IPPROTO_TCP */
	uint16_t port; /* host order */
	uint32_t kind; /* enum tw_vpn_kind */
};

#define TW_CFG_MAX_PUBKEYS 4

/* [portal]: the portal link (docs/protocol.md section 10). url "": no link. */
struct tw_portal_cfg {
	char url[TW_CFG_PATH_MAX]; /* as written: https://host[:port]/[path/] or http://loopback */
	char server_name[256]; /* SNI and name check; "": the URL's host */
	char ca[TW_CFG_PATH_MAX]; /* "": the system trust store */
	char cert[TW_CFG_PATH_MAX], key[TW_CFG_PATH_MAX]; /* mTLS identity */
	char token_file[TW_CFG_PATH_MAX];
	char policy_pubkey[TW_CFG_MAX_PUBKEYS][TW_CFG_PATH_MAX];
	uint32_t npolicy_pubkeys; /* > 0: every bundle must be signed */
	bool gzip;
	uint32_t window; /* records in flight */
	uint64_t window_bytes;
	uint64_t connect_timeout_ms, keepalive_ms, keepalive_timeout_ms, ack_timeout_ms;
	uint64_t policy_idle_timeout_ms, health_interval_ms;
	uint64_t backoff_initial_ms, backoff_max_ms;
};

struct tw_config {
	/* [node] */
	char node_id[TW_CFG_NAME_MAX]; /* "": the daemon uses the host name */
	char state_dir[TW_CFG_PATH_MAX];
	char run_dir[TW_CFG_PATH_MAX];
	char pin_root[TW_CFG_PATH_MAX];
	/* Derived from state_dir / run_dir unless set explicitly. */
	char journal_path[TW_CFG_PATH_MAX];
	char policy_cache_path[TW_CFG_PATH_MAX];
	char status_path[TW_CFG_PATH_MAX];
	char socket_path[TW_CFG_SUN_PATH_MAX];
	enum tw_log_level log_level;
	enum tw_attach_mode attach_mode;

	/* [interface PATTERN] sections, in file order: the first match wins. */
	struct tw_cfg_iface ifaces[TW_CFG_MAX_IFACES];
	uint32_t nifaces;

	/* [uplink] */
	char uplink[IFNAMSIZ]; /* "": no uplink program */
	struct tw_cfg_vport vports[TW_CFG_MAX_VPORTS];
	uint32_t nvports;
	struct tw_uplink_cfg ucfg; /* hs_rate, hs_burst, v4_prefix, v6_prefix */

	/* [accounting] */
	uint64_t interim_interval_s;
	uint64_t journal_max_bytes;

	/* [policy] */
	char policy_file[TW_CFG_PATH_MAX];
	uint64_t offline_grace_s;
	enum tw_offline_mode offline_mode;

	/* [portal] */
	struct tw_portal_cfg portal;

	/* [confirmation] */
	uint64_t confirm_timeout_s;
	uint32_t ban_threshold; /* unconfirmed attempts within ban_window; 0: never ban */
	uint64_t ban_window_s;
	uint64_t ban_duration_s;

	/* [openvpn] */
	char ovpn_mgmt[TW_CFG_MAX_MGMT][TW_CFG_SUN_PATH_MAX];
	uint32_t novpn_mgmt;
	/* who runs tunwarden-hook (OpenVPN's `user`/`group`), besides root:
	 * the only peers allowed the hook operations; names or numbers */
	char hook_user[TW_CFG_NAME_MAX];
	char hook_group[TW_CFG_NAME_MAX];

	/* [metrics] */
	bool metrics_enabled;
	char metrics_listen[64]; /* as written, e.g. "127.0.0.1:9310" */
	int metrics_family; /* AF_INET / AF_INET6 */
	uint8_t metrics_addr[16];
	uint16_t metrics_port;
};

/* Fill @c with the documented defaults. */
void tw_config_defaults(struct tw_config *c);

/*
 * Parse @len bytes of @buf into @out, starting from the defaults. @fname is
 * only used in messages. Returns 0, or -EINVAL with @err holding e.g.
 * "tunwarden.conf:12: unknown key 'intrim_interval' in [accounting]"; -E2BIG
 * when @len exceeds TW_CFG_MAX_BYTES. @out is written only on success.
 */
int tw_config_parse(const char *buf, size_t len, const char *fname, struct tw_config *out,
		    char *err, size_t errlen);

void tw_config_free(struct tw_config *c);

/* The [interface] entry matching @ifname (first in file order), or NULL. */
/* A node id usable with a portal: [A-Za-z0-9][A-Za-z0-9._-]{0,62} (protocol.md 1). */
bool tw_node_id_valid(const char *s);

const struct tw_cfg_iface *tw_config_iface_match(const struct tw_config *c, const char *ifname);

/*
 * Value parsers shared with the policy parser and the CLI. Both take a NUL-terminated
 * token and return 0 or -EINVAL (-ERANGE on overflow or, for durations, past
 * TW_DURATION_MAX_S).
 * Durations: "90", "30s", "5m", "2h", "1d", "1w", "1h30m" -> seconds; the one
 * duration parser of the tree (config, policy bundles, the CLI).
 * Sizes: "4096", "64K", "64M", "2G", "1T" (powers of 1024, optional "B"/"iB").
 */
int tw_parse_duration(const char *s, uint64_t *secs);

/*
 * The longest duration anything accepts (a ban, a timeout, a grace period):
 * 10 years. tw_parse_duration() answers -ERANGE past it, the control ops
 * refuse it, so now + duration fits a time_t and, in ns, a uint64_t.
 */
#define TW_DURATION_MAX_S (10ULL * 365 * 86400)
int tw_parse_size(const char *s, uint64_t *bytes);

/*
 * Copy at most @n bytes of @s into @dst for an error message: printable
 * ASCII as is, anything else as \xNN, and "..." when cut short, so that a
 * hostile token cannot forge log lines.
 */
void tw_quote_token(char *dst, size_t dstlen, const char *s, size_t n);

const char *tw_log_level_name(enum tw_log_level l);

#endif /* TW_CONFIG_H */
