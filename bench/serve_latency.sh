#!/usr/bin/env bash
# Drop-to-outbound latency of `tallyman serve` for the small demo file: each round renames a
# complete file into the drop folder (as a partner's atomic upload would) and waits for the
# ATP feed to appear in outbox/erp/. Prints every round and the median of ROUNDS (default 20).
# The demo pipeline waits min_age_secs = 1 and settle_secs = 1, so ~1 s of the figure is the
# settle policy by design; SETTLE=zero sets both to 0 to show the daemon's own overhead.
# Env: ROUNDS (20), PROFILE (release|debug, default release), TALLYMAN_BIN (skip the build),
#      SETTLE (demo|zero, default demo).
set -euo pipefail

ROUNDS="${ROUNDS:-20}"
PROFILE="${PROFILE:-release}"
SETTLE="${SETTLE:-demo}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n "${TALLYMAN_BIN:-}" ]]; then
    bin="$TALLYMAN_BIN"
else
    if [[ "$PROFILE" == release ]]; then cargo build --release --quiet; else cargo build --quiet; fi
    bin="${CARGO_TARGET_DIR:-target}/$PROFILE/tallyman"
fi
work="$(mktemp -d)"
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

home="$work/home"
mkdir -p "$home"
"$bin" --home "$home" demo --no-run >/dev/null
mv "$home/inbox/inventory_3pl/stock_2026-11-25.csv" "$work/stock.csv"
if [[ "$SETTLE" == zero ]]; then
    sed -i 's/^min_age_secs = .*/min_age_secs = 0/; s/^settle_secs = .*/settle_secs = 0/' \
        "$home/pipelines/inventory_3pl.toml"
fi
TALLYMAN_LOG=warn "$bin" --home "$home" serve --listen off --scan-secs 5 2>"$work/serve.log" &
pid=$!
sleep 1

python3 - "$home" "$work/stock.csv" "$ROUNDS" <<'PY'
import os, statistics, sys, time
home, src, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(src).read()
drop = os.path.join(home, "inbox/inventory_3pl")
out = os.path.join(home, "outbox/erp")
times = []
for i in range(rounds):
    # Distinct content each round, or the ledger would call it a duplicate.
    body = text.replace("SKU-00000001,3PL-RENO,120,", f"SKU-00000001,3PL-RENO,{1000 + i},", 1)
    before = set(os.listdir(out)) if os.path.isdir(out) else set()
    tmp = os.path.join(drop, f".stock_2026-11-25_{i:03}.csv")
    with open(tmp, "w") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    t0 = time.monotonic()
    os.rename(tmp, os.path.join(drop, f"stock_2026-11-25_{i:03}.csv"))
    while True:
        now = set(os.listdir(out)) if os.path.isdir(out) else set()
        if any(n.startswith("atp_") and not n.startswith(".") for n in now - before):
            break
        if time.monotonic() - t0 > 60:
            sys.exit(f"round {i}: no outbound file after 60 s")
        time.sleep(0.005)
    dt = time.monotonic() - t0
    times.append(dt)
    print(f"round {i + 1:2}: {dt * 1000:7.1f} ms")
print(f"median drop-to-outbound latency over {rounds} rounds: {statistics.median(times) * 1000:.0f} ms "
      f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")
PY
