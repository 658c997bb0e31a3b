#!/usr/bin/env bash
# Load test: the same backend direct, behind nginx `proxy_pass` (keep-alive), behind
# a bare hyper proxy (benches/examples/bare_proxy.rs: the floor for a proxy built on
# hyper), and behind the gateway's HTTP_PROXY route, measured in one go and
# interleaved.
#
# Pinning (2 cores): wrk gets core 0; the backend and the proxy under test share
# core 1, so throughput is about 1 / (proxy CPU + backend CPU) per request. The
# figure that matters is the proxy's CPU time per request (utime + stime from
# /proc over the run, divided by the requests), which varies little between runs.
#
#   benches/load.sh [DURATION_SECONDS] [REPETITIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
REPS="${2:-3}"
CONNECTIONS=32

# shellcheck source=benches/proxy-setup.sh
. benches/proxy-setup.sh
setup_tools wrk:wrk nginx:nginx-light
build_proxies

BACKEND_PORT=$(free_port); NGINX_PORT=$(free_port); GATEWAY_PORT=$(free_port)
BARE_PORT=$(free_port)

start_nginx backend "server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000; location / { return 200 'hello'; } }" 1
start_nginx proxy "upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; }
    server { listen 127.0.0.1:$NGINX_PORT; keepalive_requests 1000000;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }" 1
NGINX_PROXY_MASTER=$LAST_NGINX

write_gateway_config "$BACKEND_PORT"
RUST_LOG=error taskset -c 1 "$GATEWAY_BIN" serve --config "$WORK/gateway.yaml" \
    --listen "127.0.0.1:$GATEWAY_PORT" --worker-threads 1 > "$WORK/gateway.out" &
GATEWAY_PID=$!
PIDS+=($GATEWAY_PID)
taskset -c 1 "$BARE_BIN" "127.0.0.1:$BARE_PORT" "127.0.0.1:$BACKEND_PORT" &
BARE_PID=$!
PIDS+=($BARE_PID)

for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$GATEWAY_PORT/prod/hello" >/dev/null 2>&1 \
        && curl -fsS "http://127.0.0.1:$NGINX_PORT/hello" >/dev/null 2>&1 \
        && curl -fsS "http://127.0.0.1:$BARE_PORT/hello" >/dev/null 2>&1; then break; fi
    sleep 0.1
done

# CPU ticks (utime + stime) of a process and its children threads.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() { # name url pids...
    local name=$1 url=$2; shift 2
    taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d2s "$url" >/dev/null 2>&1  # warm-up
    local before=0 after=0
    for p in "$@"; do before=$((before + $(ticks "$p"))); done
    local out
    out=$(taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")
    for p in "$@"; do after=$((after + $(ticks "$p"))); done
    local requests rps p99
    if echo "$out" | grep -q "Non-2xx"; then
        echo "$name answered with errors:" >&2
        echo "$out" >&2
        exit 1
    fi
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "$name $rps $requests $((after - before)) $p99" >> "$WORK/results"
}

HZ=$(getconf CLK_TCK)
NGINX_PIDS="$NGINX_PROXY_MASTER $(pgrep -P "$NGINX_PROXY_MASTER" | tr '\n' ' ')"
for rep in $(seq 1 "$REPS"); do
    measure direct "http://127.0.0.1:$BACKEND_PORT/hello"
    # shellcheck disable=SC2086
    measure nginx "http://127.0.0.1:$NGINX_PORT/hello" $NGINX_PIDS
    measure hyper "http://127.0.0.1:$BARE_PORT/hello" "$BARE_PID"
    measure gateway "http://127.0.0.1:$GATEWAY_PORT/prod/hello" "$GATEWAY_PID"
    echo "repetition $rep done" >&2
done

python3 - "$WORK/results" "$HZ" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
hz = int(sys.argv[2])
by = {}
for name, rps, reqs, ticks, p99 in rows:
    cpu_us = (int(ticks) / hz) * 1e6 / int(reqs) if name != "direct" else float("nan")
    by.setdefault(name, []).append((float(rps), cpu_us, p99))
print("| target | requests/s (median) | proxy CPU per request (median) | p99 (last run) |")
print("|---|---|---|---|")
for name in ["direct", "nginx", "hyper", "gateway"]:
    runs = by.get(name, [])
    rps = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    cpu_text = "-" if cpu != cpu else f"{cpu:.1f} us"
    print(f"| {name} | {rps:,.0f} | {cpu_text} | {runs[-1][2]} |")
nginx = statistics.median(r[1] for r in by["nginx"])
hyper = statistics.median(r[1] for r in by["hyper"])
gateway = statistics.median(r[1] for r in by["gateway"])
print(f"\nbare hyper proxy CPU per request / nginx's: {hyper / nginx:.2f}x")
print(f"gateway CPU per request / nginx's: {gateway / nginx:.2f}x (target <= 1.3x)")
PY
