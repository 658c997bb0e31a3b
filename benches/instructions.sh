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

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx || ! need valgrind; then
    echo "installing wrk, nginx and valgrind"
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk nginx-light valgrind >/dev/null
fi

cargo build --release --locked -p gateway >/dev/null
cargo build --release --locked -p gateway-benches --example bare_proxy >/dev/null
GATEWAY_BIN="${CARGO_TARGET_DIR:-target}/release/gateway"
BARE_BIN="${CARGO_TARGET_DIR:-target}/release/examples/bare_proxy"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BACKEND_PORT=$(free_port)

mkdir -p "$WORK/backend"
cat > "$WORK/backend/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/error.log crit;
events { worker_connections 1024; }
http {
    access_log off;
    server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000; location / { return 200 'hello'; } }
}
CONF
nginx -p "$WORK/backend" -c "$WORK/backend/nginx.conf" &
PIDS+=($!)

cat > "$WORK/api.yaml" <<API
openapi: 3.0.1
info: {title: Load, version: "1"}
paths:
  /hello:
    get:
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://\${stageVariables.backend}/hello"
API
cat > "$WORK/gateway.yaml" <<CONF
throttle:
  account: {rate: 1000000000, burst: 1000000000}
apis:
  - name: load
    openapi: api.yaml
    stages:
      - name: prod
        variables: {backend: "127.0.0.1:$BACKEND_PORT"}
CONF

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
