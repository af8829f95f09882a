#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make lint: formatting (kernel .clang-format, 100 columns), clang-tidy and
# cppcheck over our C sources. Exit non-zero on findings.
set -u
cd "$(dirname "$0")/.."
O=${O:-build}
rc=0
mapfile -t srcs < <(git ls-files '*.c' '*.h' | grep -v '^vmlinux.h$')

echo "== clang-format"
if ! clang-format --dry-run -Werror "${srcs[@]}" 2>"$O/lint-format.txt"; then
	n=$(grep -c 'error:' "$O/lint-format.txt")
	echo "clang-format: $n formatting differences (see $O/lint-format.txt; fix with clang-format -i)"
	rc=1
fi

echo "== cppcheck"
mapfile -t usrc < <(printf '%s\n' "${srcs[@]}" | grep -v '^bpf/')
# LIBBPF_OPTS declares a struct with designated initialisers: tell cppcheck so
if ! cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr \
	--suppress=missingIncludeSystem -D__linux__ -Iinclude -Iuserspace/lib -Iuserspace/portal -Iselftests/lib \
	'-DLIBBPF_OPTS(TYPE, NAME, ...)=struct TYPE NAME = { .sz = sizeof(struct TYPE), __VA_ARGS__ }' \
	"${usrc[@]}"; then
	rc=1
fi

echo "== clang-tidy"
# kernel style tests `if (strcmp(...))`; generated skeletons are not ours to fix
checks='-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier'
checks+=',-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition'
checks+=',-bugprone-suspicious-string-compare,clang-analyzer-*'
checks+=',-clang-analyzer-security.insecureAPI.*'
mapfile -t csrc < <(printf '%s\n' "${usrc[@]}" | grep '\.c$')
for f in "${csrc[@]}"; do
	clang-tidy --quiet -checks="$checks" "$f" -- -std=gnu11 -D_GNU_SOURCE -Iinclude \
		-Iuserspace/lib -Iuserspace/portal -Iselftests/lib -Iselftests/e2e -I"$O/skel" -I"$O" \
		-DTW_TESTS_INC='"selftests/prog_tests.inc"' -DTW_SUITE='"lint"' \
		$(pkg-config --cflags libbpf libnl-route-3.0) 2>/dev/null |
		grep -E '^[^ ].*(warning|error):' | grep -v "/skel/" >"$O/lint-tidy.txt"
	if [ -s "$O/lint-tidy.txt" ]; then
		cat "$O/lint-tidy.txt"
		rc=1
	fi
done
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
