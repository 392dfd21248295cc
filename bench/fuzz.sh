#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME (default 1m) each, one after another.
# A crasher is written by `go test` into the target's testdata/fuzz/<Target>/ and stays
# there as a regression case that plain `go test ./...` runs from then on: commit it with
# the fix. Exits non-zero if any target failed.
#
#   bench/fuzz.sh                 # every target, 1 minute each
#   FUZZTIME=10s bench/fuzz.sh    # shorter
#   bench/fuzz.sh FuzzFilterStream FuzzCaddyfile   # only these
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-1m}"
failed=()
while read -r file target; do
	if [ $# -gt 0 ] && [[ ! " $* " == *" $target "* ]]; then
		continue
	fi
	pkg="./$(dirname "$file")"
	echo "== $target ($pkg) for $fuzztime"
	if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime"; then
		failed+=("$target")
		echo "!! $target failed; the crasher is in $pkg/testdata/fuzz/$target/"
	fi
done < <(grep -rho --include='*_test.go' --exclude-dir=node_modules -H '^func Fuzz[A-Za-z0-9_]*' . |
	sed -E 's#^\./##; s#:func # #')
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
echo "every fuzz target ran $fuzztime without a failure"
