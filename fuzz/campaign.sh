#!/usr/bin/env bash
# One fuzzing campaign, as recorded in docs/fuzzing.md: every target in turn
# under libFuzzer (cargo-fuzz, nightly toolchain), one process at a time,
# niced, for the minutes given, starting from and adding to
# fuzz/corpus/<target>/. Crashes land in fuzz/artifacts/<target>/.
# Usage: fuzz/campaign.sh [LOGDIR] [target:minutes ...]
set -uo pipefail
cd "$(dirname "$0")"
logs=${1:-/tmp/fuzzlogs}
shift || true
mkdir -p "$logs"
plan=("$@")
if [[ ${#plan[@]} -eq 0 ]]; then
    plan=(http_server:8 reliable_listener:6 h2_frame:4 hpack_decode:4 h1_server:5
          h2_server:5 reliable_wire:4 reliable_conn:5 kcp_segment:3 tls_server:3
          lines:2 length_prefixed:2 stack_lines:2 endpoint:2)
fi
for item in "${plan[@]}"; do
    t=${item%%:*}
    m=${item##*:}
    case $t in
        reliable_*|kcp_segment) max_len=8192 ;;
        *) max_len=4096 ;;
    esac
    s=$(date +%s)
    nice -n 10 cargo +nightly fuzz run "$t" -- \
        -max_total_time=$((m * 60)) -max_len=$max_len -timeout=10 \
        -print_final_stats=1 >"$logs/$t.log" 2>&1
    rc=$?
    echo "$t: ${m} min planned, $(($(date +%s) - s)) s run, exit $rc" | tee -a "$logs/summary"
done
