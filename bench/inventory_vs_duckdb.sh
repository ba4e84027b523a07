#!/usr/bin/env bash
# Speed and memory of the inventory pipeline against DuckDB's bare full outer join on the same
# files, in one script. Generates the pair with ../shared/bench/gen_inventory_recon.py (default
# 5,000,000 rows, about 480 MB of CSV), runs `tallyman run` (release build) and DuckDB, prints
# both wall times, the ratio, Tallyman's peak memory, and checks Tallyman's counts against
# expected.json. It also times polars alone on DuckDB's query (examples/polars_join_floor.rs):
# the floor of our own stack, so the gap that is Tallyman's shows apart from polars' own.
#
#   bash bench/inventory_vs_duckdb.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-5000000}
work=bench/work
gen=${TALLYMAN_BENCH_GEN:-../shared/bench/gen_inventory_recon.py}
/usr/bin/python3 -c 'import duckdb' 2>/dev/null || python3 -c 'import duckdb' 2>/dev/null || pip install --quiet duckdb
py=python3; $py -c 'import duckdb' 2>/dev/null || py=/usr/bin/python3
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }

bin=${TALLYMAN_BIN:-target/release/tallyman}
[ -n "${TALLYMAN_BIN:-}" ] || cargo build --release --quiet
floor=${TALLYMAN_FLOOR_BIN:-target/release/examples/polars_join_floor}
[ -n "${TALLYMAN_FLOOR_BIN:-}" ] || cargo build --release --quiet --example polars_join_floor
data="$work/data-$rows"
[ -f "$data/expected.json" ] || $py "$gen" "$rows" "$data" >/dev/null

home="$work/home"
rm -rf "$home"; mkdir -p "$home"/{pipelines,schemas,inbox/inventory_bench,erp,reference}
cp schemas/tpl_snapshot.v1.json schemas/erp_onhand.v1.json "$home/schemas/"
cat > "$home/schemas/bench_items.v1.json" <<'JSON'
{"fields": [{"name": "sku", "type": "string", "constraints": {"required": true, "unique": true}},
            {"name": "safety_stock", "type": "integer"}], "primaryKey": "sku"}
JSON
# The item master: every SKU of the ERP extract (the foreign key is checked on every row).
$py - "$data/erp_inventory.csv" "$home/reference/items.csv" <<'PY'
import sys
seen = set()
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    next(f); out.write("sku,safety_stock\n")
    for line in f:
        sku = line.split(",", 1)[0]
        if sku not in seen:
            seen.add(sku); out.write(f"{sku},{len(sku) % 3}\n")
PY
cat > "$home/pipelines/inventory_bench.toml" <<'TOML'
description = "bench: 3PL snapshot vs ERP extract"
[source]
min_age_secs = 0
settle_secs = 0
[input]
schema = "tpl_snapshot.v1"
on_error = "set_rows_aside"
[references.items]
file = "reference/items.csv"
schema = "bench_items.v1"
[erp]
folder = "erp"
pattern = "erp_inventory.csv"
schema = "erp_onhand.v1"
[reconcile]
keys = [{ partner = "item_id", erp = "sku" }, { partner = "warehouse", erp = "location" }]
compare = [{ partner = "qty_on_hand", erp = "on_hand" }]
# The columns ATP needs ride along in the reconciled table: no second join of the two sides.
carry = { partner = ["qty_damaged"], erp = ["allocated"] }
[[transforms]]
name = "atp"
sql = """
SELECT item_id AS sku, warehouse AS location,
       GREATEST(partner_qty_on_hand - COALESCE(partner_qty_damaged, 0) - COALESCE(erp_allocated, 0), 0) AS atp
FROM reconciled WHERE side <> 'erp'
"""
[[outputs]]
table = "breaks"
destination = "erp"
name = "variance_{run_id}.csv"
[[outputs]]
table = "atp"
destination = "erp"
name = "atp_{run_id}.csv"
TOML
cp "$data/erp_inventory.csv" "$home/erp/"
cp "$data/tpl_snapshot.csv" "$home/inbox/inventory_bench/"
touch -d '-1 minute' "$home/inbox/inventory_bench/tpl_snapshot.csv"

echo "rows: $rows ($(du -ch "$data"/*.csv | tail -1 | cut -f1) of CSV)"
/usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" --home "$home" run --max-wait-secs 0 > "$work/run.txt"
read -r t_secs t_kb < "$work/time.txt"
cat "$work/run.txt" | head -5

d_secs=$($py - "$data" <<'PY'
import sys, time, duckdb
d = sys.argv[1]
con = duckdb.connect()
t = time.perf_counter()
con.execute(f"""
  SELECT count(*) FILTER (WHERE e.sku IS NOT NULL AND t.item_id IS NOT NULL AND e.on_hand = t.qty_on_hand),
         count(*) FILTER (WHERE e.sku IS NOT NULL AND t.item_id IS NOT NULL AND e.on_hand <> t.qty_on_hand),
         count(*) FILTER (WHERE t.item_id IS NULL), count(*) FILTER (WHERE e.sku IS NULL)
  FROM read_csv('{d}/erp_inventory.csv') e
  FULL OUTER JOIN read_csv('{d}/tpl_snapshot.csv') t ON e.sku = t.item_id AND e.location = t.warehouse
""").fetchall()
print(f"{time.perf_counter() - t:.3f}")
PY
)

# Polars alone on DuckDB's query (no validation, archive or output): what our stack costs.
p_secs=$("$floor" "$data" 2>/dev/null)

$py - "$data/expected.json" "$home" <<PY
import json, sys, glob, csv
exp = json.load(open(sys.argv[1]))
m = json.load(open(glob.glob(sys.argv[2] + "/archive/inventory_bench/*/*/manifest.json")[0]))
r = m["reconciliation"]
got = {"matched": r["matched"], "mismatched": r["mismatched"], "only_erp": r["only_in_erp"], "only_tpl": r["only_in_partner"]}
var = 0
for row in csv.DictReader(open(glob.glob(sys.argv[2] + "/outbox/erp/variance_*.csv")[0])):
    if row["status"] == "mismatched":
        var += abs(int(row["difference_qty_on_hand"]))
got["abs_variance"] = var
want = {k: exp[k] for k in got}
print("counts:", "OK" if got == want else f"MISMATCH got {got} want {want}")
t, d = float("$t_secs"), float("$d_secs")
print(f"tallyman run: {t:.2f} s, peak RSS {int('$t_kb') / 1024:.0f} MiB")
p = float("$p_secs")
print(f"duckdb full outer join: {d:.2f} s")
print(f"polars alone, the same join: {p:.2f} s ({p / d:.2f}x duckdb)")
print(f"ratio tallyman/duckdb: {t / d:.2f}x (target <= 1.0x); tallyman/polars alone: {t / p:.2f}x; memory target <= 1024 MiB")
sys.exit(0 if got == want else 1)
PY
