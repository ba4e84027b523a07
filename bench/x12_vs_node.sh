#!/usr/bin/env bash
# Tallyman's X12 reader against node-x12 (npm) on the very same multi-MB file, one core each:
# parse + envelope check, and parse + mapping to tables (node-x12: X12TransactionMap.toObject).
# The file is built by examples/x12_bench.rs from real fixture sets with correct envelope
# counts. Targets (issue): parse + envelope >= 500 MB/s, with mapping >= 150 MB/s.
#
# Usage (from anywhere; runs in the crate root): bench/x12_vs_node.sh
#   MB=32         size of the built file
#   RUNS=5        Tallyman runs per measurement (median reported)
#   NODE_RUNS=3   node-x12 runs per measurement (median reported)
#   BENCH_DIR=target/bench-x12   where the file and the npm install go
#   PIN="taskset -c 1"           optional prefix to pin both programs to one CPU
#   EXAMPLE=x12_bench             the Tallyman example to run
set -euo pipefail

MB=${MB:-32}
RUNS=${RUNS:-5}
NODE_RUNS=${NODE_RUNS:-3}
PIN=${PIN:-}
EXAMPLE=${EXAMPLE:-x12_bench}
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-target/bench-x12}
mkdir -p "$work"
file="$work/x12_bench_${MB}MB.x12"

for tool in cargo node npm; do
    command -v "$tool" >/dev/null || { echo "x12_vs_node: $tool not found" >&2; exit 1; }
done
if [ ! -f "$work/node/node_modules/node-x12/package.json" ]; then
    echo "installing node-x12 into $work/node" >&2
    npm install --prefix "$work/node" --no-audit --no-fund --loglevel=error node-x12 >&2
fi
node_x12_version=$(node -p "require('./$work/node/node_modules/node-x12/package.json').version")

echo "machine: $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release --quiet --example "$EXAMPLE"
tallyman_out=$(X12_BENCH_WRITE="$file" X12_BENCH_RUNS="$RUNS" \
    $PIN cargo run --release --quiet --example "$EXAMPLE" -- "$MB")
echo "$tallyman_out" | grep -v '^RESULT'
node_out=$($PIN node --single-threaded --max-old-space-size=8192 bench/x12_node.js \
    "$file" "$NODE_RUNS" "$work/node")
echo "$node_out" | grep -v '^RESULT'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# `RESULT a=1 b=2` lines to one value by key.
value() { echo "$tallyman_out $node_out" | grep -o "\b$1=[0-9.]*" | head -n1 | cut -d= -f2; }
t_parse=$(value parse)
t_map=$(value map)
n_parse=$(value node_parse)
n_map=$(value node_map)
bytes=$(stat -c %s "$file")
awk -v b="$bytes" -v tp="$t_parse" -v tm="$t_map" -v np="$n_parse" -v nm="$n_map" \
    -v v="$node_x12_version" 'BEGIN {
    printf "\nfile: %d bytes (%.1f MB)\n", b, b / 1e6
    printf "%-34s %10s %10s %8s\n", "", "Tallyman", "node-x12", "ratio"
    printf "%-34s %10.1f %10.2f %7.0fx  (target >= 500: %s)\n", "parse + envelope check (MB/s)", tp, np, tp / np, (tp >= 500 ? "met" : "NOT met")
    printf "%-34s %10.1f %10.2f %7.0fx  (target >= 150: %s)\n", "parse + mapping to tables (MB/s)", tm, nm, tm / nm, (tm >= 150 ? "met" : "NOT met")
    printf "node-x12 %s, node %s; medians of wall time, single-threaded\n", v, "'"$(node --version)"'"
}'
