#!/usr/bin/env bash
# The engine rows of the README's "Measured" table, in one sitting: the hyper anchor, then
# wsgi-lab's shared and handoff engines (the hello app, 5 workers, `serve --quiet`), each loaded
# by `wrk -t2` for 4 s at 10 and at 100 keep-alive connections, one after the other, ROUNDS
# times. For each run: requests/s, the server's CPU per request (utime + stime from
# /proc/PID/stat) and its threads' voluntary context switches per request (the wake-ups).
# Then per engine and connection count: the medians, and the ratio to hyper in each round
# (the machine's load changes between rounds more than within one).
#
#   .ci/bench/sitting.sh [ROUNDS]        (default 7; needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-7}
command -v wrk >/dev/null || { echo "sitting.sh: wrk is missing: apt-get install wrk" >&2; exit 2; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release
cargo build --quiet --release --manifest-path .ci/bench/hyper-anchor/Cargo.toml
ulimit -n 8192
log=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$log"' EXIT

# Starts a server whose first line says `... http://127.0.0.1:PORT/...`; sets PID and PORT.
start() {
    "$@" > "$log/out" 2>/dev/null &
    PID=$!
    for _ in $(seq 100); do
        PORT=$(grep -o '127.0.0.1:[0-9]*' "$log/out" | head -1 | cut -d: -f2) && [ -n "$PORT" ] && return
        sleep 0.05
    done
    echo "sitting.sh: the server did not start: $*" >&2
    exit 1
}

# One run: NAME PID PORT CONNECTIONS -> a line for the summary.
run() {
    local ticks0 ticks1 sw0 sw1 out
    ticks0=$(awk '{print $14 + $15}' "/proc/$2/stat")
    sw0=$(cat /proc/"$2"/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}')
    out=$(wrk -t2 -c"$4" -d4s "http://127.0.0.1:$3/")
    ticks1=$(awk '{print $14 + $15}' "/proc/$2/stat")
    sw1=$(cat /proc/"$2"/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}')
    echo "$out" | awk -v name="$1" -v c="$4" -v ticks=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" \
        -v sw=$((sw1 - sw0)) '/requests in/ {n = $1} /Requests\/sec/ {rate = $2}
        END {printf "%s %s %.0f %.2f %.3f\n", name, c, rate, ticks / hz * 1e6 / n, sw / n}'
}

echo "load before: $(uptime)"
start "$CARGO_TARGET_DIR/release/wsgi-lab" serve --app hello --threads 5 --engine shared --port 0 --quiet
shared=($PID $PORT)
start "$CARGO_TARGET_DIR/release/wsgi-lab" serve --app hello --threads 5 --engine handoff --port 0 --quiet
handoff=($PID $PORT)
start "$CARGO_TARGET_DIR/release/hyper-anchor" 0
hyper=($PID $PORT)
for round in $(seq "$rounds"); do
    for c in 10 100; do
        run hyper "${hyper[@]}" "$c"
        run shared "${shared[@]}" "$c"
        run handoff "${handoff[@]}" "$c"
    done
done | tee "$log/runs" | awk '{printf "run: %-8s %4s connections  %9.0f req/s  %5.2f µs CPU  %5.3f wake-ups per request\n", $1, $2, $3, $4, $5}'
echo "load after: $(uptime)"
python3 - "$log/runs" <<'PY'
import statistics, sys
runs = [line.split() for line in open(sys.argv[1])]
for c in ("10", "100"):
    hyper = [float(r[2]) for r in runs if r[0] == "hyper" and r[1] == c]
    for name in ("hyper", "shared", "handoff"):
        mine = [r for r in runs if r[0] == name and r[1] == c]
        ratios = [float(r[2]) / h for r, h in zip(mine, hyper)]
        median = lambda i: statistics.median(float(r[i]) for r in mine)
        print(f"{name:8} {c:>3} connections: median {median(2):9.0f} req/s, {median(3):.2f} µs CPU and "
              f"{median(4):.3f} wake-ups per request; × hyper by round {min(ratios):.2f}–{max(ratios):.2f}, "
              f"median {statistics.median(ratios):.2f}")
PY
