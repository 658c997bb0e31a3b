#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: the
# gateway's HTTP_PROXY route and the bare hyper proxy (benches/examples/bare_proxy.rs)
# in front of the same nginx backend. Unlike CPU time, the count barely moves between
# runs (about 0.2%), so it tells small changes of the request path apart.
#
#   benches/instructions.sh [DURATION_SECONDS]
#
# Counters are zeroed after a warm-up and dumped after a wrk run of DURATION seconds
# (8 connections); the figure is the dumped total over the requests wrk completed.
# Keep the callgrind files (printed at the end) for `callgrind_annotate`.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"

# shellcheck source=benches/proxy-setup.sh
. benches/proxy-setup.sh
KEEP_WORK=1
setup_tools wrk:wrk nginx:nginx-light valgrind:valgrind
build_proxies

BACKEND_PORT=$(free_port)

start_nginx backend "server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000; location / { return 200 'hello'; } }"
write_gateway_config "$BACKEND_PORT"

count() { # name port command...
    local name=$1 port=$2; shift 2
    RUST_LOG=error valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.callgrind" \
        "$@" > "$WORK/$name.out" 2>&1 &
    local pid=$!
    PIDS+=($pid)
    local url="http://127.0.0.1:$port/prod/hello"
    for _ in $(seq 1 150); do curl -fsS "$url" >/dev/null 2>&1 && break; sleep 0.2; done
    wrk -t1 -c8 -d3s "$url" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    local out
    out=$(wrk -t1 -c8 -d"${DURATION}s" "$url")
    callgrind_control -d "$pid" >/dev/null 2>&1
    if echo "$out" | grep -q "Non-2xx"; then
        echo "$name answered with errors:" >&2
        echo "$out" >&2
        exit 1
    fi
    local requests dump total
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    dump=$(ls "$WORK/$name.callgrind".* | head -1)
    total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    kill "$pid"
    echo "| $name | $requests | $((total / requests)) |"
}

GATEWAY_PORT=$(free_port)
BARE_PORT=$(free_port)
echo "| proxy | requests counted | instructions per request |"
echo "|---|---|---|"
count hyper "$BARE_PORT" "$BARE_BIN" "127.0.0.1:$BARE_PORT" "127.0.0.1:$BACKEND_PORT"
count gateway "$GATEWAY_PORT" "$GATEWAY_BIN" serve --config "$WORK/gateway.yaml" \
    --listen "127.0.0.1:$GATEWAY_PORT" --worker-threads 1
echo "callgrind files: $WORK"
