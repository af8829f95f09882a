// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the OpenVPN hook environment parser (hookenv.c).
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *		-Iinclude -Iuserspace/lib selftests/fuzz/fuzz_hookenv.c \
 *		userspace/lib/hookenv.c userspace/lib/tw_utf8.c userspace/lib/config.c \
 *		-o build/fuzz_hookenv
 *	build/fuzz_hookenv -max_total_time=60
 *
 * Input: byte 0 picks the script_type put in front of the environment (so
 * the fuzzer reaches each script type's checks without first having to spell
 * it) and how many of the following strings are argv[1..]; the rest of the
 * input, split at NUL bytes, is the environment. On success the harness
 * checks what the parser promises about its output, and traps otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "hookenv.h"
#include "tw_utf8.h"

#define MAX_STRINGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const script_types[] = {
	NULL,
	"script_type=client-connect",
	"script_type=client-disconnect",
	"script_type=learn-address",
};

/* Printable ASCII for dev; names: UTF-8 without control characters (tw_utf8.h). */
static void check_name(const char *s, size_t max, bool nonempty)
{
	size_t n = strnlen(s, max + 1);

	if (n > max || (nonempty && !n))
		__builtin_trap();
	if (max >= TW_HOOK_CN_BYTES) {
		if (tw_utf8_check(s, n, NULL))
			__builtin_trap();
		return;
	}
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			__builtin_trap();
}

static void check_output(const struct tw_hook_env *e)
{
	check_name(e->dev, IFNAMSIZ - 1, true);
	switch (e->script_type) {
	case TW_HOOK_CLIENT_CONNECT:
		if (e->config_file[0] != '/')
			__builtin_trap();
		/* fallthrough */
	case TW_HOOK_CLIENT_DISCONNECT:
		check_name(e->common_name, TW_HOOK_CN_BYTES, true);
		if (!e->has_trusted_ip && !e->has_trusted_ip6)
			__builtin_trap();
		if (!e->trusted_port)
			__builtin_trap();
		if (e->script_type == TW_HOOK_CLIENT_DISCONNECT &&
		    (!e->has_bytes || !e->has_time_duration))
			__builtin_trap();
		break;
	case TW_HOOK_LEARN_ADDRESS:
		if (e->learn_family != AF_INET && e->learn_family != AF_INET6)
			__builtin_trap();
		if (e->learn_prefix > (e->learn_family == AF_INET ? 32 : 128))
			__builtin_trap();
		check_name(e->common_name, TW_HOOK_CN_BYTES, e->learn_op != TW_HOOK_LEARN_DELETE);
		break;
	default:
		__builtin_trap();
	}
	check_name(e->ou, TW_HOOK_CN_BYTES, false);
	if (e->time_unix > INT64_MAX || e->time_duration > INT64_MAX)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *strs[MAX_STRINGS], *envp[MAX_STRINGS + 2], *argv[8];
	struct tw_hook_env e;
	char err[256];
	size_t nstr = 0, i, start;
	int argc, nenv = 0, ret;
	char *buf;

	if (size < 1)
		return 0;
	/* A private NUL-terminated copy: the parser takes C strings. */
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	for (start = 0, i = 0; i < size && nstr < MAX_STRINGS; i++) {
		if (i == size - 1 || buf[i] == '\0') {
			buf[i] = '\0';
			strs[nstr++] = buf + start;
			start = i + 1;
		}
	}

	argv[0] = "tunwarden-hook";
	argc = 1;
	for (i = 0; i < (size_t)((data[0] >> 2) % 5) && i < nstr && argc < 7; i++)
		argv[argc++] = strs[i];
	argv[argc] = NULL;
	if (script_types[data[0] & 3])
		envp[nenv++] = (char *)script_types[data[0] & 3];
	for (; i < nstr; i++)
		envp[nenv++] = strs[i];
	envp[nenv] = NULL;

	memset(err, 0x5a, sizeof(err));
	ret = tw_hook_env_parse(envp, argc, argv, &e, err, sizeof(err));
	if (ret == 0)
		check_output(&e);
	else if (ret != -EINVAL || !memchr(err, '\0', sizeof(err)) || !err[0])
		__builtin_trap();
	free(buf);
	return 0;
}
