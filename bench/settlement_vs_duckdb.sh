#!/usr/bin/env bash
# Settlement matching, Tallyman against DuckDB. Generates an Amazon V2 settlement of about LINES
# lines over ORDERS ERP orders with a known answer (bench/gen_settlement.py), runs the shipped
# settlement_amazon_v2 pipeline through `tallyman run` (validation, footing, matching, journal,
# report, archive) and one DuckDB script doing the same grouping, join, totals and CSV outputs;
# prints both wall times, the ratio, Tallyman's peak memory, and checks both against
# expected.json (orders and settled amount per status, the journal summing to the deposit).
#
#   bash bench/settlement_vs_duckdb.sh [LINES] [ORDERS]     (default 1000000 300000)
#   TALLYMAN_BIN=target/debug/tallyman bash bench/settlement_vs_duckdb.sh 30000 9000
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
orders=${2:-300000}
work=bench/work
py=python3; $py -c 'import duckdb' 2>/dev/null || py=/usr/bin/python3
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
bin=${TALLYMAN_BIN:-target/release/tallyman}
[ -n "${TALLYMAN_BIN:-}" ] || cargo build --release --quiet
# Polars alone doing DuckDB's script (examples/polars_settlement_floor.rs): our stack's floor.
floor=${TALLYMAN_FLOOR_BIN:-target/release/examples/polars_settlement_floor}
[ -n "${TALLYMAN_FLOOR_BIN:-}" ] || cargo build --release --quiet --example polars_settlement_floor
data="$work/settlement-$lines-$orders"
[ -f "$data/expected.json" ] || $py bench/gen_settlement.py "$lines" "$orders" "$data"

home="$work/settlement-home"
rm -rf "$home"; mkdir -p "$home"/{pipelines,schemas,inbox/settlement_amazon_v2,inbox/erp}
# The shipped pipeline waits for files to settle (min_age_secs/settle_secs = 1); the bench's
# files are complete when the run starts, so the whole-job comparison waits for nothing (as
# the inventory bench).
sed -e 's/^min_age_secs = .*/min_age_secs = 0/' -e 's/^settle_secs = .*/settle_secs = 0/' \
  pipelines/settlement_amazon_v2.toml > "$home/pipelines/settlement_amazon_v2.toml"
cp schemas/settlement_lines.v1.json schemas/erp_orders.v1.json "$home/schemas/"
cp "$data"/erp_orders_amazon_*.csv "$home/inbox/erp/"
cp "$data"/settlement_*.tsv "$home/inbox/settlement_amazon_v2/"
touch -d '-1 min' "$home"/inbox/settlement_amazon_v2/* "$home"/inbox/erp/*

/usr/bin/time -f '%e %M' -o "$work/tallyman.time" "$bin" --home "$home" run settlement_amazon_v2 >/dev/null 2>"$work/tallyman.log" || true
read -r t_secs t_kb < "$work/tallyman.time"

duck="$work/duckdb-out"; rm -rf "$duck"; mkdir -p "$duck"
start=$(date +%s.%N)
$py - "$data" "$duck" <<'PY'
import glob, sys, duckdb
data, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
tsv = glob.glob(f"{data}/settlement_*.tsv")[0]
erp = glob.glob(f"{data}/erp_orders_amazon_*.csv")[0]
con.execute(f"""
CREATE TABLE lines AS
SELECT "settlement-id" AS settlement_id, "order-id" AS order_ref, 'USD' AS currency,
       CAST("amount" AS DECIMAL(18, 2)) AS amount,
       CASE WHEN "transaction-type" = 'Refund' AND "amount-type" = 'ItemPrice' THEN 'refund'
            WHEN "amount-type" = 'ItemPrice' AND "amount-description" = 'Principal' THEN 'principal'
            WHEN "amount-type" = 'ItemPrice' AND "amount-description" = 'Tax' THEN 'tax'
            WHEN "amount-type" = 'ItemFees' AND "amount-description" = 'Commission' THEN 'marketplace_fee'
            WHEN "amount-type" = 'ItemFees' THEN 'fulfilment_fee'
            ELSE 'other' END AS component
FROM read_csv('{tsv}', delim = '\t', header = true, all_varchar = true, quote = '')
WHERE "transaction-type" IS NOT NULL;
CREATE TABLE erp AS SELECT * FROM read_csv('{erp}', header = true,
  columns = {{'order_id': 'VARCHAR', 'expected_amount': 'DECIMAL(18,2)', 'currency': 'VARCHAR',
             'tax': 'DECIMAL(18,2)', 'shipping': 'DECIMAL(18,2)'}});
CREATE TABLE g AS
SELECT order_ref, currency, count(*) AS lines, sum(amount) AS settled,
       sum(amount) FILTER (component IN ('principal', 'tax')) AS sales,
       sum(amount) FILTER (component = 'refund') AS refunds,
       sum(amount) FILTER (component IN ('marketplace_fee', 'fulfilment_fee')) AS fees
FROM lines GROUP BY order_ref, currency;
CREATE TABLE grouped AS
SELECT coalesce(g.order_ref, e.order_id) AS order_ref,
  CASE WHEN g.order_ref IS NULL THEN 'awaiting_settlement'
       WHEN e.order_id IS NULL THEN 'unknown_order'
       WHEN g.currency <> e.currency THEN 'currency_mismatch'
       WHEN coalesce(g.refunds, 0) <> 0 THEN 'refunded'
       WHEN coalesce(g.sales, 0) = 0 AND coalesce(g.fees, 0) <> 0 THEN 'fees_only'
       WHEN coalesce(g.sales, 0) = e.expected_amount THEN 'paid'
       WHEN coalesce(g.sales, 0) < e.expected_amount THEN 'short_paid'
       ELSE 'over_paid' END AS status,
  coalesce(g.settled, 0) AS settled, e.expected_amount AS expected
FROM g FULL OUTER JOIN erp e ON g.order_ref = e.order_id;
""")
con.execute(f"COPY grouped TO '{out}/grouped.csv' (HEADER)")
con.execute(f"""COPY (SELECT settlement_id, currency, component, sum(amount) AS amount FROM lines
  GROUP BY ALL ORDER BY ALL) TO '{out}/journal.csv' (HEADER)""")
con.execute(f"""COPY (SELECT status, count(*) AS count, sum(settled) AS settled FROM grouped
  GROUP BY ALL ORDER BY ALL) TO '{out}/summary.csv' (HEADER)""")
PY
d_secs=$(echo "$(date +%s.%N) - $start" | bc)

pol="$work/polars-out"; rm -rf "$pol"; mkdir -p "$pol"
p_secs=$("$floor" "$data" "$pol" 2>/dev/null || echo 0)

$py - "$data/expected.json" "$home" "$duck" <<'PY'
import csv, glob, json, sys
from collections import defaultdict
from decimal import Decimal
want = json.load(open(sys.argv[1]))
home, duck = sys.argv[2], sys.argv[3]
def by_status(rows):
    out = defaultdict(lambda: [0, Decimal(0)])
    for r in rows:
        out[r["status"]][0] += 1
        out[r["status"]][1] += Decimal(r["settled"])
    return {k: (v[0], v[1]) for k, v in out.items()}
expect = {k: (v["count"], Decimal(v["settled"])) for k, v in want["statuses"].items()}
ours = glob.glob(f"{home}/outbox/finance/*.csv")
ok_t = bool(ours) and by_status(csv.DictReader(open(ours[0]))) == expect
journal = glob.glob(f"{home}/outbox/gl/*.csv")
# One journal file per settlement (partition_by): together they sum to the deposits.
ok_j = bool(journal) and sum(Decimal(r["amount"]) for j in journal for r in csv.DictReader(open(j))) == Decimal(want["deposit"])
ok_d = by_status(csv.DictReader(open(f"{duck}/grouped.csv"))) == expect
print(f"answer: tallyman statuses {'ok' if ok_t else 'WRONG'}, journal = deposit {'ok' if ok_j else 'WRONG'}; duckdb statuses {'ok' if ok_d else 'WRONG'}")
PY
echo "lines: $(($(wc -l < "$data"/settlement_*.tsv) - 2)), orders: $orders"
echo "tallyman: ${t_secs}s, peak $((t_kb / 1024)) MiB"
echo "duckdb:   ${d_secs}s"
echo "polars alone: ${p_secs}s ($(echo "scale=2; $p_secs / $d_secs" | bc)x duckdb)"
echo "ratio:    $(echo "scale=2; $t_secs / $d_secs" | bc)x (target <= 1.0x, peak <= 1024 MiB); tallyman/polars alone: $(echo "scale=2; $t_secs / $p_secs" | bc)x"
