#!/usr/bin/env bash
# Runs a command with Azurite (Blob) and a Cosmos DB emulator started for it, and stops them
# afterwards whatever happens.
#
#   emulators/with-emulators.sh <command> [args...]
#
# The command sees (and nothing else does):
#   SHOPSENSE_TEST_BLOB_ENDPOINT    http://127.0.0.1:<port>/devstoreaccount1 (plain http; use an account SAS)
#   SHOPSENSE_TEST_COSMOS_ENDPOINT  https://127.0.0.1:<port>/
#   SHOPSENSE_TEST_CA_FILE          the throwaway test CA that signed the Cosmos certificate
#   SSL_CERT_FILE                   that CA plus the system's roots
#   AZURE_COSMOS_BINARY_ENCODING_ENABLED=false   the emulator speaks JSON only
#   COSMOS_DISABLE_IMDS=1           else the Cosmos SDK asks the Azure VM metadata service
#                                   (169.254.169.254) for a machine id: off-machine traffic
# Exits with the command's exit code, or non-zero naming the emulator that failed to start.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
START_TIMEOUT_S=30

die() {
  printf '\n*** %s ***\n\n' "$*" >&2
  exit 1
}

for tool in node npm openssl curl; do
  command -v "$tool" >/dev/null || die "emulators need '$tool' on PATH (node >= 20 with npm, openssl, curl)"
done

azurite_main="$here/node_modules/azurite/dist/src/blob/main.js"
cosmos_main="$here/node_modules/@vercel/cosmosdb-server/lib/index.js"

# npm ci wipes node_modules, so run it only when something is missing or the lockfile changed
# since the last install (npm writes node_modules/.package-lock.json on every install).
# --ignore-scripts: neither emulator needs an install script, and none may fetch binaries.
npm_failed=""
if [[ ! -f "$azurite_main" || ! -f "$cosmos_main" || ! -f "$here/node_modules/.package-lock.json" ||
      "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
  echo "with-emulators: installing the emulator packages (npm ci in $here)" >&2
  (cd "$here" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2) || npm_failed=1
fi
missing=()
[[ -f "$azurite_main" ]] || missing+=("Blob emulator (Azurite): $azurite_main")
[[ -f "$cosmos_main" ]] || missing+=("Cosmos DB emulator (@vercel/cosmosdb-server): $cosmos_main")
if ((${#missing[@]})); then
  die "emulator not installed${npm_failed:+ and npm ci failed (see above)}; missing:
$(printf '  %s\n' "${missing[@]}")"
fi
[[ -z "$npm_failed" ]] || die "npm ci in $here failed (see above); the emulator packages may be stale"

mkdir -p "$here/.run"
# Failed runs keep their logs; forget those after a day.
find "$here/.run" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
run_dir="$(mktemp -d "$here/.run/run-XXXXXX")"
azurite_pid=""
cosmos_pid=""
command_pid=""

stop() {
  local pid
  for pid in $azurite_pid $cosmos_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  # Azurite may ignore SIGTERM: give both ~2 s, then KILL whatever is left.
  for _ in $(seq 20); do
    local alive=""
    for pid in $azurite_pid $cosmos_pid; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ -z "$alive" ]] && break
    sleep 0.1
  done
  for pid in $azurite_pid $cosmos_pid; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in $azurite_pid $cosmos_pid; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  # Signalled while the command runs: pass the signal on rather than orphan it.
  [[ -n "$command_pid" ]] && kill -TERM "$command_pid" 2>/dev/null
  stop
  # Keep the logs of a failed run for a look; a clean run leaves nothing behind.
  if [[ $code -eq 0 ]]; then rm -rf "$run_dir"; else echo "with-emulators: logs kept in $run_dir" >&2; fi
  exit "$code"
}
trap cleanup EXIT
# Turn signals into an exit so the EXIT trap stops the emulators (128+n, as a shell reports it).
trap 'exit 130' INT
trap 'exit 143' TERM

# A throwaway CA and a leaf for 127.0.0.1: the SDK verifies TLS, and the certificate bundled
# with @vercel/cosmosdb-server expired long ago and names no host.
make_certs() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=shopsense emulator test CA" \
    -keyout "$run_dir/ca-key.pem" -out "$run_dir/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$run_dir/leaf-key.pem" -out "$run_dir/leaf.csr"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$run_dir/leaf.ext"
  openssl x509 -req -days 2 -in "$run_dir/leaf.csr" -CA "$run_dir/ca.pem" -CAkey "$run_dir/ca-key.pem" \
    -CAcreateserial -extfile "$run_dir/leaf.ext" -out "$run_dir/leaf.pem"
}
make_certs >"$run_dir/openssl.log" 2>&1 || die "cannot create the test certificates: $(tail -5 "$run_dir/openssl.log")"
# SSL_CERT_FILE replaces the system roots for OpenSSL and rustls-native-certs alike, so the
# command gets the test CA *plus* the system bundle: cargo or npm inside can still reach
# their registries.
cat "$run_dir/ca.pem" >"$run_dir/trust.pem"
for bundle in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  if [[ -f "$bundle" ]]; then cat "$bundle" >>"$run_dir/trust.pem"; break; fi
done

# Two ports the kernel says are free right now (a tiny race remains; a taken port shows up as
# a start failure with "EADDRINUSE" in the log).
blob_port="" cosmos_port=""
read -r blob_port cosmos_port < <(node -e '
  const net = require("net");
  const grab = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => ok(s)); });
  Promise.all([grab(), grab()]).then((ss) => { console.log(ss.map((s) => s.address().port).join(" ")); ss.forEach((s) => s.close()); });
') || true
[[ -n "$cosmos_port" ]] || die "cannot pick two free loopback ports for the emulators (node failed)"

# Started directly rather than through npx/bin wrappers, so the PID we hold is the server.
node "$here/node_modules/azurite/dist/src/blob/main.js" \
  --blobHost 127.0.0.1 --blobPort "$blob_port" --inMemoryPersistence \
  --disableTelemetry --skipApiVersionCheck --silent \
  >"$run_dir/azurite.log" 2>&1 &
azurite_pid=$!
node "$here/cosmos-launcher.mjs" --port "$cosmos_port" --cert "$run_dir/leaf.pem" --key "$run_dir/leaf-key.pem" \
  >"$run_dir/cosmos.log" 2>&1 &
cosmos_pid=$!

# wait_ready NAME PID LOG CURL-ARGS...: any HTTP answer means the server is up (Azurite says 403
# to an anonymous request, which is fine).
wait_ready() {
  local name=$1 pid=$2 log=$3
  shift 3
  local deadline=$((SECONDS + START_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      die "$name did not start: it exited. Last lines of $log:
$(tail -30 "$log")"
    fi
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" || true)"
    [[ "$code" =~ ^[1-5][0-9][0-9]$ ]] && return 0
    sleep 0.2
  done
  die "$name did not start: no answer within ${START_TIMEOUT_S}s. Last lines of $log:
$(tail -30 "$log")"
}
blob_endpoint="http://127.0.0.1:$blob_port/devstoreaccount1"
cosmos_endpoint="https://127.0.0.1:$cosmos_port/"
wait_ready "Blob emulator (Azurite)" "$azurite_pid" "$run_dir/azurite.log" "$blob_endpoint?comp=list"
wait_ready "Cosmos DB emulator (@vercel/cosmosdb-server)" "$cosmos_pid" "$run_dir/cosmos.log" \
  --cacert "$run_dir/ca.pem" "$cosmos_endpoint"
echo "with-emulators: Azurite at $blob_endpoint, Cosmos DB at $cosmos_endpoint" >&2

# Not exec: the EXIT trap must outlive the command to stop the emulators. Run in the
# background and wait, so a TERM/INT to this script is handled at once, not after the command
# (<&0: a background job would otherwise get /dev/null as its stdin).
set +e
SHOPSENSE_TEST_BLOB_ENDPOINT="$blob_endpoint" \
  SHOPSENSE_TEST_COSMOS_ENDPOINT="$cosmos_endpoint" \
  SHOPSENSE_TEST_CA_FILE="$run_dir/ca.pem" \
  SSL_CERT_FILE="$run_dir/trust.pem" \
  AZURE_COSMOS_BINARY_ENCODING_ENABLED=false \
  COSMOS_DISABLE_IMDS=1 \
  "$@" <&0 &
command_pid=$!
wait "$command_pid"
status=$?
command_pid=""
set -e
exit "$status"
