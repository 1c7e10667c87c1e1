#!/usr/bin/env bash
# Gateway benchmark: wrk against
#   (a) Wardgate's full pipeline with an API key (IP rules, geo, key lookup, rate limit,
#       route, Wasm decision, audit, forward),
#   (b) Wardgate with checks off (`enforce = false`: the proxy alone),
#   (c) Debian's nginx as a plain proxy_pass with upstream keepalive,
# all in front of the same upstream (an nginx server block answering a small JSON body),
# over plain HTTP and over TLS, in one run. Prints a markdown table.
#
# Usage: bench/gateway/run.sh [seconds per run, default 10] [connections, default 32]
# Installs wrk and nginx from Debian when missing (needs root or sudo).
set -euo pipefail

DURATION="${1:-10}"
CONNS="${2:-32}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d /tmp/wardgate-bench.XXXXXX)"
# Everything it starts stops, and its files (audit logs of every request included) go.
trap 'kill $(jobs -p) 2>/dev/null || true; nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -s stop 2>/dev/null || true; sleep 0.5; rm -rf "$WORK"' EXIT

need() {
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q "$2" >/dev/null
  fi
}
need wrk wrk
need nginx nginx-light
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

echo "building wardgate (release)..." >&2
(cd "$ROOT" && cargo build -q --release -p wardgate)
WG="$ROOT/target/release/wardgate"

# Ports.
UP=18080; NG_PLAIN=18081; NG_TLS=18444
WG_FULL=18090; WG_FULL_TLS=18091; WG_OFF=18092; WG_OFF_TLS=18093

# Certificates: the demo's self-signed CA and leaf, from a throwaway demo run.
CERTS="$WORK/certs"; mkdir -p "$CERTS"
"$WG" serve --demo --data-dir "$CERTS" --listen 127.0.0.1:0 >/dev/null 2>&1 &
DEMO=$!
for _ in $(seq 100); do [ -f "$CERTS/demo.json" ] && break; sleep 0.1; done
kill "$DEMO"; wait "$DEMO" 2>/dev/null || true

# nginx: the upstream and the reference proxy.
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
error_log $WORK/nginx/logs/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  upstream app { server 127.0.0.1:$UP; keepalive 64; }
  server {
    listen 127.0.0.1:$UP;
    location / { default_type application/json; return 200 '{"patients":[{"id":"pt-1","name":"Maria Lopez"}]}'; }
  }
  server {
    listen 127.0.0.1:$NG_PLAIN;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:$NG_TLS ssl;
    ssl_certificate $CERTS/cert.pem;
    ssl_certificate_key $CERTS/key.pem;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"

# Wardgate: a store with a practice and a key that no run reaches the limit of.
DATA="$WORK/wg"; mkdir -p "$DATA"
cp "$ROOT/policies/kareo.policy" "$DATA/"
cp "$ROOT/gateway/testdata/geoip/GeoIP2-Country-Test.mmdb" "$DATA/"
"$WG" practice add bench --name "Bench Clinic" --module clinical --module billing --module engage \
  --db "$DATA/wardgate.db" --audit "$DATA/audit" >/dev/null
"$WG" key account sync --practice bench --role "Office Staff" --db "$DATA/wardgate.db" --audit "$DATA/audit" >/dev/null
KEY="$("$WG" key issue --account sync --scope '*' --rate 100000000/min --db "$DATA/wardgate.db" --audit "$DATA/audit" --json | sed -n 's/.*"key": *"\([^"]*\)".*/\1/p')"
[ -n "$KEY" ] || { echo "could not issue a key" >&2; exit 1; }

config() { # name listen tls enforce
  local tls=""
  [ "$3" = yes ] && tls="tls_cert = \"$CERTS/cert.pem\"
tls_key = \"$CERTS/key.pem\""
  cat > "$DATA/$1.toml" <<TOML
[server]
listen = "127.0.0.1:$2"
$tls
enforce = $4
[policy]
module = "$DATA/kareo.policy"
[identity]
database = "$DATA/wardgate.db"
[audit]
dir = "$DATA/audit-$1"
[practice]
from = "fixed"
id = "bench"
[network]
deny = ["192.0.2.0/24"]
[geo]
database = "$DATA/GeoIP2-Country-Test.mmdb"
block_countries = ["KP"]
[[upstream]]
name = "app"
url = "http://127.0.0.1:$UP"
prefix = "/"
TOML
}

run_wardgate() { # name port tls enforce
  config "$1" "$2" "$3" "$4"
  RUST_LOG=warn "$WG" serve --config "$DATA/$1.toml" >"$WORK/$1.log" 2>&1 &
  echo $!
}

wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; return 1; }

# One row: label url [header]. Throughput and latency under load with $CONNS connections, then
# latency with one connection (the gateway's own added time, without queueing).
measure() {
  local label="$1" url="$2" header="${3:-X-Bench: 1}"
  wrk -t1 -c1 -d1s -H "$header" "$url" >/dev/null 2>&1 || true  # warm-up
  local out one; out="$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "$header" "$url")"
  one="$(wrk -t1 -c1 -d"$(( (DURATION + 1) / 2 ))s" --latency -H "$header" "$url")"
  local rps p50 p99 errs p50one p99one
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p50="$(echo "$out" | awk '$1=="50%" {print $2}')"
  p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  errs="$(echo "$out" | awk '/Non-2xx/ {print $5}')"
  p50one="$(echo "$one" | awk '$1=="50%" {print $2}')"
  p99one="$(echo "$one" | awk '$1=="99%" {print $2}')"
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p50" "$p99" "$p50one" "$p99one" "${errs:-0}"
}

FULL=$(run_wardgate full $WG_FULL no true)
FULL_TLS=$(run_wardgate full-tls $WG_FULL_TLS yes true)
OFF=$(run_wardgate off $WG_OFF no false)
OFF_TLS=$(run_wardgate off-tls $WG_OFF_TLS yes false)
for p in $UP $NG_PLAIN $NG_TLS $WG_FULL $WG_FULL_TLS $WG_OFF $WG_OFF_TLS; do wait_port "$p"; done

AUTH="Authorization: Bearer $KEY"
PATHQ="/api/patients"
echo
echo "wrk -t2 -c$CONNS -d${DURATION}s --latency; upstream: nginx return 200 (1 worker); $(nproc) cores shared by all"
echo
echo "| target | requests/s (c$CONNS) | p50 (c$CONNS) | p99 (c$CONNS) | p50 (c1) | p99 (c1) | non-2xx |"
echo "|---|---|---|---|---|---|---|"
measure "upstream direct (plain)" "http://127.0.0.1:$UP$PATHQ"
measure "nginx proxy_pass (plain)" "http://127.0.0.1:$NG_PLAIN$PATHQ"
measure "wardgate checks off (plain)" "http://127.0.0.1:$WG_OFF$PATHQ"
measure "wardgate full pipeline + key (plain)" "http://127.0.0.1:$WG_FULL$PATHQ" "$AUTH"
measure "nginx proxy_pass (TLS)" "https://127.0.0.1:$NG_TLS$PATHQ"
measure "wardgate checks off (TLS)" "https://127.0.0.1:$WG_OFF_TLS$PATHQ"
measure "wardgate full pipeline + key (TLS)" "https://127.0.0.1:$WG_FULL_TLS$PATHQ" "$AUTH"
kill "$FULL" "$FULL_TLS" "$OFF" "$OFF_TLS" 2>/dev/null || true
wait 2>/dev/null || true
