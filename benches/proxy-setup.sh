# Shared by benches/load.sh and benches/instructions.sh (sourced, not run): installs
# the tools, builds the gateway and the bare hyper proxy, and writes the nginx
# backend and the gateway's HTTP_PROXY configuration into a scratch directory.
#
#   setup_tools PACKAGE...      installs the Debian packages whose commands are missing
#   build_proxies               sets GATEWAY_BIN and BARE_BIN
#   start_nginx NAME CONF [CPU] starts an nginx with CONF as its http block
#   write_gateway_config PORT   writes $WORK/gateway.yaml proxying /prod/hello to PORT
#
# WORK is removed on exit unless KEEP_WORK=1; every pid in PIDS is stopped.

setup_tools() { # command:package...
    local missing=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing ${missing[*]}"
        local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

build_proxies() {
    cargo build --release --locked -p gateway >/dev/null
    cargo build --release --locked -p gateway-benches --example bare_proxy >/dev/null
    GATEWAY_BIN="${CARGO_TARGET_DIR:-target}/release/gateway"
    BARE_BIN="${CARGO_TARGET_DIR:-target}/release/examples/bare_proxy"
}

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_nginx() { # name conf [cpu]
    mkdir -p "$WORK/$1"
    cat > "$WORK/$1/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/error.log crit;
events { worker_connections 1024; }
http {
    access_log off;
    $2
}
CONF
    if [ -n "${3:-}" ]; then
        taskset -c "$3" nginx -p "$WORK/$1" -c "$WORK/$1/nginx.conf" &
    else
        nginx -p "$WORK/$1" -c "$WORK/$1/nginx.conf" &
    fi
    PIDS+=($!)
    LAST_NGINX=$!
}

write_gateway_config() { # backend port
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
    # The account-level bucket stays in the path, with room for any rate wrk
    # reaches: AWS's default (10,000 requests/s) would answer most of the load
    # with 429s.
    cat > "$WORK/gateway.yaml" <<CONF
throttle:
  account: {rate: 1000000000, burst: 1000000000}
apis:
  - name: load
    openapi: api.yaml
    stages:
      - name: prod
        variables: {backend: "127.0.0.1:$1"}
CONF
}
