#!/bin/sh
# Throughput of small files (one 1,000-row CSV each, three pipelines) through one, two and three
# `tallyman serve` sharing a throwaway PostgreSQL cluster, against one daemon on SQLite; prints
# files per second. BENCH_FILES_PER_PIPELINE (default 10) sets the batch. Needs Debian's
# postgresql server binaries (as the tests do).
set -eu
cd "$(dirname "$0")/.."
exec cargo test --test cluster_cli measure_cluster_throughput -- --ignored --nocapture
