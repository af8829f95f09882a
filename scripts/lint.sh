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
	n=$(grep -c 'warning:' "$O/lint-format.txt")
	echo "clang-format: $n formatting differences (see $O/lint-format.txt; fix with clang-format -i)"
	rc=1
fi

echo "== cppcheck"
mapfile -t usrc < <(printf '%s\n' "${srcs[@]}" | grep -v '^bpf/')
if ! cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr \
	--suppress=missingIncludeSystem -D__linux__ -Iinclude -Iuserspace/lib -Iselftests/lib \
	"${usrc[@]}"; then
	rc=1
fi

echo "== clang-tidy"
mapfile -t csrc < <(printf '%s\n' "${usrc[@]}" | grep '\.c$')
for f in "${csrc[@]}"; do
	clang-tidy --quiet -checks='-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,clang-analyzer-*,-clang-analyzer-security.insecureAPI.*' \
		--warnings-as-errors='*' "$f" -- -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace/lib \
		-Iselftests/lib -I"$O/skel" -I"$O" $(pkg-config --cflags libbpf) 2>/dev/null \
		| grep -E 'warning|error' && rc=1
done
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
