/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Accounting and event records: the unit the journal stores and the record
 * stream carries to the portal, one NDJSON line each. The JSON field names
 * are part of the node <-> portal protocol and are written down in
 * docs/records.md; change them only together with that file.
 *
 * Strings live in fixed arrays so a record is one flat value: the journal's
 * queue, the parser and the fuzzer need no ownership rules. An empty string
 * means "absent" and is omitted from the JSON.
 */
#ifndef TW_RECORD_H
#define TW_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tunwarden/abi.h>

#define TW_REC_VERSION 1 /* "v": bumped only for changes old parsers would misread */

/* Array sizes include the terminating NUL. */
#define TW_REC_NODE_MAX	   64
#define TW_REC_LOG_ID_LEN  32 /* 128 random bits as lowercase hex */
#define TW_REC_SESSION_MAX 64
#define TW_REC_SUBJECT_MAX 256 /* an IPsec peer id may be a long DN */
#define TW_REC_NAME_MAX	   64 /* tenant, profile */
#define TW_REC_DETAIL_MAX  1024
#define TW_REC_GAP_RANGES  32 /* seq ranges one gap record can name */

/* RADIUS Acct-Terminate-Cause (RFC 2866 5.10, RFC 3580); values are RADIUS's own. */
enum tw_term_cause {
	TW_TERM_NONE = 0,
	TW_TERM_USER_REQUEST = 1,
	TW_TERM_LOST_CARRIER = 2,
	TW_TERM_LOST_SERVICE = 3,
	TW_TERM_IDLE_TIMEOUT = 4,
	TW_TERM_SESSION_TIMEOUT = 5,
	TW_TERM_ADMIN_RESET = 6,
	TW_TERM_ADMIN_REBOOT = 7,
	TW_TERM_PORT_ERROR = 8,
	TW_TERM_NAS_ERROR = 9,
	TW_TERM_NAS_REQUEST = 10,
	TW_TERM_NAS_REBOOT = 11,
	TW_TERM_PORT_UNNEEDED = 12,
	TW_TERM_PORT_PREEMPTED = 13,
	TW_TERM_PORT_SUSPENDED = 14,
	TW_TERM_SERVICE_UNAVAILABLE = 15,
	TW_TERM_CALLBACK = 16,
	TW_TERM_USER_ERROR = 17,
	TW_TERM_HOST_REQUEST = 18,
	/* tunwarden's own from here: no RADIUS value (exported as Lost-Service) */
	TW_TERM_VPN_GONE = 19, /* re-adopted, but its VPN server no longer lists it */
	TW_TERM__MAX = 20,
};

/* A closed range of sequence numbers, first <= last. */
struct tw_seq_range {
	uint64_t first;
	uint64_t last;
};

/* Cumulative since the session's connect: never deltas, so a resend is harmless. */
struct tw_rec_counters {
	uint64_t from_bytes; /* sent by the client (RADIUS Acct-Input-Octets) */
	uint64_t from_pkts;
	uint64_t to_bytes; /* delivered to the client (Acct-Output-Octets) */
	uint64_t to_pkts;
	uint64_t drop_pkts; /* dropped packets, either direction, all reasons */
	uint64_t drop_bytes;
	uint64_t drops[TW_DROP__MAX]; /* packets by enum tw_drop_reason; [TW_DROP_NONE] unused */
};

/* The optional fields of health records (docs/protocol.md section 7). */
enum tw_health_int {
	TW_HI_UPTIME_S,
	TW_HI_LOAD1_MILLI,
	TW_HI_CPUS,
	TW_HI_SESSIONS,
	TW_HI_BACKLOG_RECORDS,
	TW_HI_POLICY_AGE_S,
	TW_HI__MAX,
};

struct tw_rec_health {
	char event[16]; /* "link", "periodic", "alert"; "": absent */
	char software_version[64];
	char policy_source[16]; /* "portal", "cache", "file", "none"; "": absent */
	uint32_t has; /* bit (1 << enum tw_health_int): that integer is present */
	uint64_t v[TW_HI__MAX];
};

struct tw_record {
	char node[TW_REC_NODE_MAX];
	char log_id[TW_REC_LOG_ID_LEN + 1];
	uint64_t seq; /* >= 1, strictly increasing within one log id */
	uint64_t time_ns; /* event time, CLOCK_REALTIME, ns since the epoch */
	uint32_t kind; /* enum tw_record_kind */

	char session[TW_REC_SESSION_MAX];
	char subject[TW_REC_SUBJECT_MAX];
	char tenant[TW_REC_NAME_MAX];
	char profile[TW_REC_NAME_MAX];

	bool has_tun4, has_tun6;
	uint8_t tun4[4]; /* network order */
	uint8_t tun6[16];

	uint8_t real_family; /* 0: none, else TW_FAM_V4 / TW_FAM_V6 */
	uint8_t real_addr[16];
	uint16_t real_port; /* host order; 0: unknown */

	uint64_t policy_version; /* 0: none (versions start at 1) */

	bool has_counters;
	struct tw_rec_counters ctr;

	uint32_t term_cause; /* enum tw_term_cause; disconnect only */

	char detail[TW_REC_DETAIL_MAX]; /* free form: decision reason, ban scope, health text */

	/* gap records: the seqs that were dropped */
	uint32_t ngaps;
	struct tw_seq_range gaps[TW_REC_GAP_RANGES];
	uint64_t gap_count; /* number of records dropped, the sum over gaps */

	struct tw_rec_health health; /* health records only */
};

/* "uptime_s", ... : the JSON name of a health integer. */
const char *tw_health_int_name(enum tw_health_int i);

/* "connect", ... or NULL for an unknown kind. */
const char *tw_record_kind_name(uint32_t kind);
int tw_record_kind_parse(const char *s); /* kind or -EINVAL */
/* "User-Request", ... or NULL. */
const char *tw_term_cause_name(uint32_t cause);
int tw_term_cause_parse(const char *s); /* cause or -EINVAL */
/* "not_allowed", ... or NULL (also for TW_DROP_NONE). */
const char *tw_drop_reason_name(uint32_t reason);

/*
 * Check the rules docs/records.md states (required fields per kind, ranges,
 * string lengths). 0 or -EINVAL with a message naming the field in @err.
 * The serialiser refuses what the parser would refuse, so the journal never
 * stores a line the portal cannot read.
 */
int tw_record_validate(const struct tw_record *rec, char *err, size_t errlen);

/*
 * One compact JSON object, no trailing newline, malloc'd and NUL terminated;
 * @len (if not NULL) gets its length. NULL with errno set (EINVAL: the record
 * fails tw_record_validate(), @err says why; ENOMEM).
 */
char *tw_record_to_json(const struct tw_record *rec, size_t *len, char *err, size_t errlen);

/*
 * Parse one record from @buf[0..len) (one NDJSON line; a trailing newline is
 * accepted; no NUL needed). Pure: no I/O, no global state. Fields the parser
 * does not know are ignored, so newer nodes can add fields. 0, or -EINVAL
 * with @err naming the field and quoting the offending value; -ENOMEM.
 * @rec is zeroed first, so two parses of equal input compare equal bytewise.
 */
int tw_record_from_json(const char *buf, size_t len, struct tw_record *rec, char *err,
			size_t errlen);

#endif /* TW_RECORD_H */
