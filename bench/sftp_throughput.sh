#!/usr/bin/env bash
# Compares SFTP download throughput of Tallyman's transport (examples/sftp_fetch.rs) with the
# OpenSSH `sftp` client, on one private sshd on 127.0.0.1 serving a 500 MB file.
# Needs openssh-server and openssh-client. Target: ratio >= 0.8.
# Env: SIZE_MB (default 500), PROFILE (release|debug, default release).
set -euo pipefail

SIZE_MB="${SIZE_MB:-500}"
PROFILE="${PROFILE:-release}"
CRATE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d)"
SSHD_PID=""
cleanup() {
    if [[ -n "$SSHD_PID" ]]; then kill "$SSHD_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/served" /run/sshd 2>/dev/null || mkdir -p "$WORK/served"
ssh-keygen -q -t ed25519 -N "" -C bench -f "$WORK/host_ed25519"
ssh-keygen -q -t ed25519 -N "" -C bench -f "$WORK/client_ed25519"
cp "$WORK/client_ed25519.pub" "$WORK/authorized_keys"
USER_NAME="$(id -un)"

start_sshd() {
    local port="$1"
    cat >"$WORK/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $WORK/host_ed25519
PidFile $WORK/sshd.pid
AuthorizedKeysFile $WORK/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
UseDNS no
EOF
    /usr/sbin/sshd -D -e -f "$WORK/sshd_config" 2>"$WORK/sshd.log" &
    SSHD_PID=$!
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then sleep 0.1; kill -0 "$SSHD_PID" 2>/dev/null && return 0; return 1; fi
        if ! kill -0 "$SSHD_PID" 2>/dev/null; then return 1; fi
        sleep 0.05
    done
    return 1
}

PORT=""
for _ in 1 2 3 4 5; do
    candidate=$((20000 + RANDOM % 40000))
    if start_sshd "$candidate"; then PORT="$candidate"; break; fi
    kill "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=""
done
[[ -n "$PORT" ]] || { echo "sshd did not start:"; cat "$WORK/sshd.log"; exit 1; }
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$WORK/host_ed25519.pub")" >"$WORK/known_hosts"

echo "creating ${SIZE_MB} MB test file..."
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$WORK/served/big.bin"
BYTES=$(stat -c %s "$WORK/served/big.bin")
WANT_SHA=$(sha256sum "$WORK/served/big.bin" | cut -d' ' -f1)

echo "building examples/sftp_fetch ($PROFILE)..."
if [[ "$PROFILE" == release ]]; then
    (cd "$CRATE_DIR" && cargo build --quiet --release --example sftp_fetch)
else
    (cd "$CRATE_DIR" && cargo build --quiet --example sftp_fetch)
fi
FETCH="$CRATE_DIR/target/$PROFILE/examples/sftp_fetch"

now() { date +%s.%N; }
ROUNDS="${ROUNDS:-3}"
echo "get $WORK/served/big.bin $WORK/openssh.out" >"$WORK/batch"
OPENSSH_TIMES=()
TALLYMAN_TIMES=()
# Alternating rounds, so that load from other processes on the machine hits both alike.
for round in $(seq 1 "$ROUNDS"); do
    t0=$(now)
    sftp -q -b "$WORK/batch" -i "$WORK/client_ed25519" -P "$PORT" \
        -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$WORK/known_hosts" \
        "$USER_NAME@127.0.0.1" >/dev/null
    t1=$(now)
    [[ "$(stat -c %s "$WORK/openssh.out")" == "$BYTES" ]] || { echo "openssh sftp: short download"; exit 1; }
    rm -f "$WORK/openssh.out"
    OPENSSH_TIMES+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")

    t2=$(now)
    OUT=$("$FETCH" 127.0.0.1 "$PORT" "$USER_NAME" "$WORK/client_ed25519" "$WORK/known_hosts" \
        "$WORK/served" big.bin "$WORK/tallyman.out")
    t3=$(now)
    [[ "$OUT" == *"sha256=$WANT_SHA"* ]] || { echo "tallyman: wrong content: $OUT"; exit 1; }
    rm -f "$WORK/tallyman.out"
    TALLYMAN_TIMES+=("$(awk -v a="$t2" -v b="$t3" 'BEGIN { print b - a }')")
    echo "round $round: openssh ${OPENSSH_TIMES[-1]} s, tallyman ${TALLYMAN_TIMES[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
T_OPENSSH=$(median "${OPENSSH_TIMES[@]}")
T_TALLYMAN=$(median "${TALLYMAN_TIMES[@]}")

awk -v b="$BYTES" -v to="$T_OPENSSH" -v tt="$T_TALLYMAN" -v r="$ROUNDS" 'BEGIN {
    o = b / 1e6 / to; t = b / 1e6 / tt;
    printf "file: %.0f MB, median of %d rounds\n", b / 1e6, r;
    printf "openssh sftp: %.2f s, %.1f MB/s (whole process: connect + download)\n", to, o;
    printf "tallyman    : %.2f s, %.1f MB/s (whole process: connect + list + download + fsync + sha256)\n", tt, t;
    printf "ratio tallyman/openssh: %.2f (target >= 0.8)\n", t / o;
}'
echo "tallyman detail (last round): $OUT"
