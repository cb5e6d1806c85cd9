#!/usr/bin/env bash
# The platform's services as separate processes on this machine.
# usage: deploy/local/services.sh up|down|status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VAR="${BILLING_VAR:-$ROOT/var}"
BIN="$ROOT/.venv/bin/billing"
# start order: producers of reference data first
SERVICES=(provisioning auto_provisioning rating prepaid_credit invoicing disputes portal)

log() { printf '%s\n' "$*" >&2; }

present() { [[ -f "$ROOT/services/$1/app.py" ]]; }
pid_of() { cat "$VAR/services/$1.pid" 2>/dev/null || true; }
running() { local p; p="$(pid_of "$1")"; [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }

up() {
  [[ -x "$BIN" ]] || { log "error: $BIN missing: run 'make setup' first"; exit 1; }
  mkdir -p "$VAR/services"
  # API keys: the hashed key file every service reads, the operator's and the demo partner's keys
  export BILLING_VAR="$VAR" BILLING_API_KEYS_FILE="${BILLING_API_KEYS_FILE:-$VAR/keys/store/api-keys.json}"
  "$BIN" keys init >&2
  # the services' clock: the system's, or a manual one for scenario replays (docs/manual-clock.md)
  export BILLING_CLOCK="${BILLING_CLOCK:-system}"
  [[ "$BILLING_CLOCK" == system ]] || log "clock: $BILLING_CLOCK, from ${BILLING_CLOCK_START:-2000-01-01T00:00:00Z} (move it with \`billing clock set INSTANT\`)"
  local started=()
  for s in "${SERVICES[@]}"; do
    present "$s" || continue
    if running "$s"; then log "$s: already running (pid $(pid_of "$s"))"; continue; fi
    : > "$VAR/services/$s.log"
    # each service with its own PostgreSQL role and Kafka principal (written by infra.sh up)
    ( if [[ -f "$VAR/secrets/$s.env" ]]; then set -a; . "$VAR/secrets/$s.env"; set +a
      else log "$s: no $VAR/secrets/$s.env: it connects with the environment's credentials"; fi
      exec nohup "$BIN" serve "$s" >>"$VAR/services/$s.log" 2>&1 ) &
    echo $! > "$VAR/services/$s.pid"
    started+=("$s")
  done
  for s in "${started[@]}"; do
    for _ in $(seq 1 120); do
      grep -q "$s started" "$VAR/services/$s.log" 2>/dev/null && { log "$s: ready"; break; }
      running "$s" || { log "error: $s exited: see $VAR/services/$s.log"; tail -20 "$VAR/services/$s.log" >&2; exit 1; }
      sleep 0.5
    done
  done
}

down() {
  for s in "${SERVICES[@]}"; do
    if running "$s"; then
      local p; p="$(pid_of "$s")"; log "$s: stopping (pid $p)"; kill "$p"
      for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$p" 2>/dev/null || true
    fi
    rm -f "$VAR/services/$s.pid"
  done
}

status() {
  for s in "${SERVICES[@]}"; do
    present "$s" || continue
    if running "$s"; then printf '%-18s running  pid %s  log %s\n' "$s" "$(pid_of "$s")" "$VAR/services/$s.log"
    else printf '%-18s stopped\n' "$s"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) log "usage: $0 up|down|status"; exit 2 ;;
esac
