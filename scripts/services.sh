#!/usr/bin/env bash
# Local services for scalekit's integration tests (Debian 12, run as root).
#
#   scripts/services.sh up [--replica] [--shards] [--redis-cluster] [--rabbit-cluster] [--all]
#   scripts/services.sh rabbit-node stop|start <port>
#   scripts/services.sh status
#   scripts/services.sh down [--purge]
#   scripts/services.sh env            # eval "$(scripts/services.sh env)"
#
# Base services (PostgreSQL 5432, Redis 6379, RabbitMQ 5672) are only ever installed/started,
# never stopped or reconfigured. Everything else runs on spare ports under the state directory
# and is the only thing `down` touches. Variables, ports and defaults: docs/services.md.
set -euo pipefail
shopt -s nullglob

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

HOST=127.0.0.1
SCRIPT_PATH=$(realpath -- "${BASH_SOURCE[0]}")
STATE_DIR=$(realpath -m -- "${SCALEKIT_SERVICES_DIR:-/var/lib/scalekit}")
PG_ROOT=$STATE_DIR/pg
PG_LOG_DIR=$PG_ROOT/log
REDIS_ROOT=$STATE_DIR/redis-cluster
RABBIT_ROOT=$STATE_DIR/rabbit-cluster
MARKER=$STATE_DIR/.scalekit-services
LOCK_FILE=/run/lock/scalekit-services.lock
[[ -d /run/lock ]] || LOCK_FILE=/tmp/scalekit-services.lock

# ---------------------------------------------------------------- ports and URLs

PG_PORT=${SCALEKIT_PG_PORT:-5432}
REDIS_PORT=${SCALEKIT_REDIS_PORT:-6379}
AMQP_PORT=${SCALEKIT_AMQP_PORT:-5672}
PG_PRIMARY_PORT=${SCALEKIT_PG_PRIMARY_PORT:-5433}
PG_REPLICA_PORT=${SCALEKIT_PG_REPLICA_PORT:-5434}
PG_REPLICA2_PORT=${SCALEKIT_PG_REPLICA2_PORT:-5435}
IFS=, read -r -a PG_SHARD_PORTS <<<"${SCALEKIT_PG_SHARD_PORTS:-5441,5442,5443}"
IFS=, read -r -a REDIS_CLUSTER_PORTS <<<"${SCALEKIT_REDIS_CLUSTER_PORTS:-7001,7002,7003,7004,7005,7006}"
IFS=, read -r -a RABBIT_CLUSTER_PORTS <<<"${SCALEKIT_RABBIT_CLUSTER_PORTS:-5681,5682,5683}"
# Node i (from 1) is <prefix>-i@localhost; a private cluster (a test's) takes another prefix.
RABBIT_CLUSTER_PREFIX=${SCALEKIT_RABBIT_CLUSTER_PREFIX:-sk-rabbit}

join_by() { local IFS=$1; shift; printf '%s' "$*"; }

shard_urls=() cluster_nodes=() rabbit_urls=()
for p in "${PG_SHARD_PORTS[@]}"; do shard_urls+=("postgres://postgres@$HOST:$p/test"); done
for p in "${REDIS_CLUSTER_PORTS[@]}"; do cluster_nodes+=("$HOST:$p"); done
for p in "${RABBIT_CLUSTER_PORTS[@]}"; do rabbit_urls+=("amqp://guest:guest@$HOST:$p"); done

SCALEKIT_PG_URL=${SCALEKIT_PG_URL:-postgres://postgres@$HOST:$PG_PORT/test}
SCALEKIT_REDIS_URL=${SCALEKIT_REDIS_URL:-redis://$HOST:$REDIS_PORT}
SCALEKIT_AMQP_URL=${SCALEKIT_AMQP_URL:-amqp://guest:guest@$HOST:$AMQP_PORT}
SCALEKIT_PG_PRIMARY_URL=${SCALEKIT_PG_PRIMARY_URL:-postgres://postgres@$HOST:$PG_PRIMARY_PORT/test}
SCALEKIT_PG_REPLICA_URL=${SCALEKIT_PG_REPLICA_URL:-postgres://postgres@$HOST:$PG_REPLICA_PORT/test}
SCALEKIT_PG_REPLICA2_URL=${SCALEKIT_PG_REPLICA2_URL:-postgres://postgres@$HOST:$PG_REPLICA2_PORT/test}
SCALEKIT_PG_SHARD_URLS=${SCALEKIT_PG_SHARD_URLS:-$(join_by , "${shard_urls[@]}")}
SCALEKIT_REDIS_CLUSTER_NODES=${SCALEKIT_REDIS_CLUSTER_NODES:-$(join_by , "${cluster_nodes[@]}")}
SCALEKIT_AMQP_CLUSTER_URLS=${SCALEKIT_AMQP_CLUSTER_URLS:-$(join_by , "${rabbit_urls[@]}")}
URL_VARS=(SCALEKIT_PG_URL SCALEKIT_REDIS_URL SCALEKIT_AMQP_URL SCALEKIT_PG_PRIMARY_URL
  SCALEKIT_PG_REPLICA_URL SCALEKIT_PG_REPLICA2_URL SCALEKIT_PG_SHARD_URLS SCALEKIT_REDIS_CLUSTER_NODES
  SCALEKIT_AMQP_CLUSTER_URLS)

# Replication slots on the dedicated primary, one per replica.
SLOT_REPLICA=scalekit_replica
SLOT_REPLICA2=scalekit_replica2

# ---------------------------------------------------------------- helpers

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'EOF'
usage: scripts/services.sh <command>

  up [--replica] [--shards] [--redis-cluster] [--rabbit-cluster] [--all]
        ensure PostgreSQL, Redis and RabbitMQ answer on their standard ports (install/start
        them if needed), then build/start the requested extra topology on spare ports
  rabbit-node stop|start <port>
        stop or start one node of the RabbitMQ cluster (fault scenarios); start rejoins it
  status        one line per component: name, port, up/down, role
  down [--purge | --rabbit-cluster]
        stop what this script started on the spare ports (never the standard services);
        --purge also deletes the state directory; --rabbit-cluster stops only the RabbitMQ cluster
  env           print `export SCALEKIT_...=url` lines for eval

Ports, URLs and the state directory are set by environment variables: docs/services.md.
EOF
}

validate_ports() {
  local all=("$PG_PORT" "$REDIS_PORT" "$AMQP_PORT" "$PG_PRIMARY_PORT" "$PG_REPLICA_PORT"
    "$PG_REPLICA2_PORT" "${PG_SHARD_PORTS[@]}" "${REDIS_CLUSTER_PORTS[@]}" "${RABBIT_CLUSTER_PORTS[@]}") p dup
  for p in "${all[@]}"; do
    if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then die "not a TCP port: '$p'"; fi
  done
  ((${#PG_SHARD_PORTS[@]} >= 1)) || die "SCALEKIT_PG_SHARD_PORTS is empty"
  ((${#REDIS_CLUSTER_PORTS[@]} == 6)) || die "SCALEKIT_REDIS_CLUSTER_PORTS needs exactly 6 ports"
  for p in "${REDIS_CLUSTER_PORTS[@]}"; do
    ((p <= 55535)) || die "redis cluster port $p: its bus port ($p + 10000) would not be a TCP port"
  done
  ((${#RABBIT_CLUSTER_PORTS[@]} == 3)) || die "SCALEKIT_RABBIT_CLUSTER_PORTS needs exactly 3 ports"
  for p in "${RABBIT_CLUSTER_PORTS[@]}"; do
    ((p <= 45535)) || die "rabbit cluster port $p: its distribution port ($p + 20000) would not be a TCP port"
  done
  [[ $RABBIT_CLUSTER_PREFIX =~ ^[A-Za-z0-9_-]{1,40}$ ]] || die "SCALEKIT_RABBIT_CLUSTER_PREFIX: 1-40 of [A-Za-z0-9_-]"
  dup=$(printf '%s\n' "${all[@]}" | sort | uniq -d | tr '\n' ' ')
  [[ -z $dup ]] || die "port(s) configured twice: $dup"
}

# wait_for SECONDS DESCRIPTION COMMAND... : poll COMMAND every 0.2 s until it succeeds.
wait_for() {
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" && return 0
    sleep 0.2
  done
  log "timed out after ${seconds}s waiting for $what"
  return 1
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

# shellcheck disable=SC2016 # $0/$1 expand in the inner bash
tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null; }

# AMQP 0-9-1 handshake: a broker answers the protocol header with a Connection.Start frame (type 1).
# Used once after starting the broker; routine checks only open the port, because every aborted
# handshake leaves three warning lines in the broker's log.
amqp_ping() {
  local reply
  # shellcheck disable=SC2016 # $0/$1 expand in the inner bash
  reply=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "AMQP\x00\x00\x09\x01" >&3 &&
    head -c 1 <&3 | od -An -tx1' "$HOST" "$1" 2>/dev/null) || return 1
  [[ ${reply// /} == 01 ]]
}

rcli() { local port=$1; shift; timeout 5 redis-cli -h "$HOST" -p "$port" "$@" 2>/dev/null; }
redis_ping() { [[ $(rcli "$1" ping || true) == PONG ]]; }

# ---------------------------------------------------------------- PostgreSQL binaries

PGBIN='' PG_MAJOR='' PSQL=''
resolve_pgbin() {
  [[ -n $PGBIN ]] && return 0
  local candidates=(/usr/lib/postgresql/*/bin/pg_ctl) best
  ((${#candidates[@]})) || return 1
  best=$(printf '%s\n' "${candidates[@]}" | sort -V | tail -n 1)
  PGBIN=${best%/pg_ctl}
  PG_MAJOR=$(basename "$(dirname "$PGBIN")")
  PSQL=$PGBIN/psql
}
have_pg_server() { resolve_pgbin && [[ -x $PGBIN/initdb && -x $PGBIN/psql ]] && command -v pg_ctlcluster >/dev/null; }

# pgq PORT DB psql-args... : run psql as postgres over TCP (trust auth), unaligned, tuples only.
pgq() {
  local port=$1 db=$2
  shift 2
  PGCONNECT_TIMEOUT=3 "${PSQL:-psql}" -X -q -A -t -v ON_ERROR_STOP=1 -h "$HOST" -p "$port" -U postgres -d "$db" "$@"
}
pg_ready() { "${PGBIN:+$PGBIN/}pg_isready" -q -h "$HOST" -p "$1" -t 2 2>/dev/null; }

# Make sure database `test` and superuser role `root` exist (over TCP as postgres). $1 = port.
ensure_test_db_and_root() {
  local port=$1 have
  have=$(pgq "$port" postgres -c "select (select count(*) from pg_database where datname = 'test')
    || ',' || (select count(*) from pg_roles where rolname = 'root')") || return 1
  [[ $have == 1,1 ]] && return 0
  [[ $have == *,1 ]] || { pgq "$port" postgres -c 'create role root superuser login' >/dev/null && log "  created role root on :$port"; }
  [[ $have == 1,* ]] || { pgq "$port" postgres -c 'create database test' >/dev/null && log "  created database test on :$port"; }
}

# ---------------------------------------------------------------- base services

APT_UPDATED=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    apt-get update -q >/dev/null
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  apt-get install -y -q "$@" >&2
}

system_pg_version() {
  local dirs=(/etc/postgresql/*/main)
  ((${#dirs[@]})) || return 1
  printf '%s\n' "${dirs[@]}" | sed 's#^/etc/postgresql/##; s#/main$##' | sort -V | tail -n 1
}

ensure_base() {
  local want_pg_bins=$1 want_redis_bins=$2 missing=() pg_fresh=0 ver
  local pg_up=0 redis_up=0 amqp_up=0
  resolve_pgbin || true
  pg_ready "$PG_PORT" && pg_up=1
  redis_ping "$REDIS_PORT" && redis_up=1
  tcp_open "$AMQP_PORT" && amqp_up=1

  if ! have_pg_server && { ((pg_up == 0)) || ((want_pg_bins)); }; then
    ((pg_up == 0)) || die "PostgreSQL answers on :$PG_PORT but its server binaries are not installed here; apt-get install postgresql first"
    missing+=(postgresql)
  fi
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    if ((redis_up == 0 || want_redis_bins)); then missing+=(redis-server); fi
  fi
  if ((amqp_up == 0)) && ! command -v rabbitmq-server >/dev/null; then missing+=(rabbitmq-server); fi
  # promtool (Debian's prometheus package) checks and unit-tests the alert rules @scalekit/observability ships.
  command -v promtool >/dev/null || missing+=(prometheus)
  if ((${#missing[@]})); then
    apt_install "${missing[@]}"
    [[ " ${missing[*]} " == *" postgresql "* ]] && pg_fresh=1
    PGBIN=''
    resolve_pgbin || die "PostgreSQL binaries still missing after install"
  fi

  # PostgreSQL on the standard port.
  if ((pg_up)); then
    log "postgres :$PG_PORT up"
  else
    ver=$(system_pg_version || true)
    if [[ -z $ver ]]; then
      ver=$PG_MAJOR
      log "creating cluster $ver/main"
      pg_createcluster "$ver" main >/dev/null
      pg_fresh=1
    fi
    local cport
    cport=$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" { print $3 }')
    [[ -z $cport || $cport == "$PG_PORT" ]] ||
      die "cluster $ver/main is configured for port $cport, not SCALEKIT_PG_PORT=$PG_PORT; this script does not reconfigure it"
    if pg_ready "$PG_PORT"; then
      : # started by the package's postinst
    elif pg_ctlcluster "$ver" main status >/dev/null 2>&1; then
      log "postgres cluster $ver/main is running, waiting for :$PG_PORT"
    else
      log "starting postgres cluster $ver/main"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    fi
    wait_for 60 "PostgreSQL on :$PG_PORT" pg_ready "$PG_PORT" ||
      die "PostgreSQL did not come up on :$PG_PORT (see /var/log/postgresql/)"
    if ((pg_fresh)); then
      # Only on a cluster this script just installed: trust on loopback, as the tests expect.
      local hba=/etc/postgresql/$ver/main/pg_hba.conf
      log "fresh cluster: trust auth on 127.0.0.1/::1 in $hba"
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      pg_ctlcluster "$ver" main reload
    fi
  fi
  if ! ensure_test_db_and_root "$PG_PORT" 2>/dev/null; then
    # No trust auth over TCP on this (existing) cluster: do it over the Unix socket as postgres,
    # but do not change its authentication.
    local have
    have=$(as_postgres psql -X -q -A -t -p "$PG_PORT" -d postgres -c "select (select count(*) from pg_database
      where datname = 'test') || ',' || (select count(*) from pg_roles where rolname = 'root')") ||
      die "cannot connect to PostgreSQL :$PG_PORT as postgres (neither TCP trust nor local socket)"
    [[ $have == *,1 ]] || as_postgres psql -X -q -p "$PG_PORT" -d postgres -c 'create role root superuser login'
    [[ $have == 1,* ]] || as_postgres psql -X -q -p "$PG_PORT" -d postgres -c 'create database test'
    log "warning: postgres :$PG_PORT does not trust postgres@127.0.0.1; tests expect trust auth"
  fi

  # Redis on the standard port.
  if ((redis_up)); then
    log "redis :$REDIS_PORT up"
  elif redis_ping "$REDIS_PORT"; then
    log "redis :$REDIS_PORT up (started by the package)"
  else
    log "starting redis :$REDIS_PORT"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log </dev/null >/dev/null
    wait_for 30 "Redis on :$REDIS_PORT" redis_ping "$REDIS_PORT" ||
      die "Redis did not come up on :$REDIS_PORT (see /var/log/redis/ci.log)"
  fi

  # RabbitMQ on the standard port.
  if ((amqp_up)); then
    log "rabbitmq :$AMQP_PORT up"
  elif tcp_open "$AMQP_PORT"; then
    log "rabbitmq :$AMQP_PORT up (started by the package)"
  else
    log "starting rabbitmq"
    rabbitmq-server -detached </dev/null >/dev/null 2>&1 || true # fails harmlessly if already booting
    timeout 300 rabbitmqctl await_startup >/dev/null 2>&1 || die "RabbitMQ did not start (see /var/log/rabbitmq/)"
    wait_for 30 "RabbitMQ on :$AMQP_PORT" amqp_ping "$AMQP_PORT" ||
      die "RabbitMQ is running but does not answer AMQP on :$AMQP_PORT"
  fi
}

# ---------------------------------------------------------------- private PostgreSQL instances

prepare_state_dir() {
  install -d -m 755 "$STATE_DIR"
  [[ -e $MARKER ]] || printf 'state directory of scalekit scripts/services.sh\n' >"$MARKER"
}

prepare_pg_root() {
  prepare_state_dir
  install -d -m 755 -o postgres -g postgres "$PG_ROOT" "$PG_LOG_DIR"
  as_postgres test -w "$PG_ROOT" ||
    die "user postgres cannot write $PG_ROOT (a parent directory is not traversable?); set SCALEKIT_SERVICES_DIR"
}

# pg_state DIR PORT -> up | foreign | down
pg_state() {
  local dir=$1 port=$2 out
  if out=$(pgq "$port" postgres -c "select current_setting('data_directory')" 2>/dev/null); then
    if [[ $out == "$dir" ]]; then echo up; else echo foreign; fi
  elif pg_running "$dir"; then
    echo down # ours, but not answering on this port: pg_start restarts it
  elif tcp_open "$port"; then
    echo foreign # something else listens there: do not touch our data dir
  else
    echo down
  fi
}

pg_running() { [[ -f $1/postmaster.pid ]] && as_postgres "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

pg_valid_dir() { # DIR primary|replica
  local dir=$1 kind=$2
  [[ -f $dir/PG_VERSION && $(<"$dir/PG_VERSION") == "$PG_MAJOR" && -f $dir/global/pg_control &&
    -f $dir/postgresql.conf && -f $dir/pg_hba.conf ]] || return 1
  if [[ $kind == replica ]]; then [[ -f $dir/standby.signal ]]; else [[ ! -f $dir/standby.signal ]]; fi
}

write_pg_conf() { # DIR PORT NAME [SLOT]  (SLOT set = replica of the dedicated primary)
  local dir=$1 port=$2 name=$3 slot=${4:-}
  {
    printf '%s\n' "# Written by scripts/services.sh before every start; use ALTER SYSTEM for test-time changes."
    printf '%s\n' "listen_addresses = '$HOST'" "port = $port" "unix_socket_directories = ''" \
      "max_connections = 100" "shared_buffers = 32MB" "fsync = off" \
      "wal_level = replica" "max_wal_senders = 10" "max_replication_slots = 10" \
      "hot_standby = on" "hot_standby_feedback = on" "wal_retrieve_retry_interval = 1s" \
      "log_line_prefix = '%m [%p] %q%a %u@%d '" "cluster_name = 'scalekit-$name'"
    if [[ -n $slot ]]; then
      printf '%s\n' "primary_conninfo = 'host=$HOST port=$PG_PRIMARY_PORT user=postgres application_name=$name'" \
        "primary_slot_name = '$slot'"
    fi
  } >"$dir/scalekit.conf"
  chown postgres:postgres "$dir/scalekit.conf"
}

pg_stop() { # DIR
  pg_running "$1" || return 0
  as_postgres "$PGBIN/pg_ctl" -D "$1" -m fast -w -t 60 -s stop >/dev/null 2>&1 ||
    as_postgres "$PGBIN/pg_ctl" -D "$1" -m immediate -w -t 30 -s stop >/dev/null 2>&1 || true
}

pg_start() { # NAME DIR PORT [SLOT]
  local name=$1 dir=$2 port=$3 slot=${4:-}
  write_pg_conf "$dir" "$port" "$name" "$slot"
  pg_stop "$dir" # running but not answering on its port: restart with the current config
  local try
  for try in 1 2; do
    if as_postgres "$PGBIN/pg_ctl" -D "$dir" -l "$PG_LOG_DIR/$name.log" -w -t 90 -s start >/dev/null 2>&1; then
      return 0
    fi
    # A stale postmaster.pid (e.g. after a reboot) can block a start: drop it once and retry.
    if [[ $try == 1 && -f $dir/postmaster.pid ]] && ! pg_running "$dir"; then rm -f "$dir/postmaster.pid"; else break; fi
  done
  log "  $name did not start (see $PG_LOG_DIR/$name.log)"
  return 1
}

pg_initdb() { # DIR
  local dir=$1
  as_postgres "$PGBIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 -N >/dev/null
  cat >"$dir/pg_hba.conf" <<'EOF'
# Written by scripts/services.sh: trust on loopback, replication included.
local all         all                 trust
host  all         all   127.0.0.1/32  trust
host  all         all   ::1/128       trust
host  replication all   127.0.0.1/32  trust
host  replication all   ::1/128       trust
EOF
  printf "\ninclude_if_exists = 'scalekit.conf'\n" >>"$dir/postgresql.conf"
  chown postgres:postgres "$dir/pg_hba.conf" "$dir/postgresql.conf"
}

pg_sysid_running() { pgq "$1" postgres -c 'select system_identifier from pg_control_system()'; }
pg_sysid_dir() { LC_ALL=C "$PGBIN/pg_controldata" -D "$1" 2>/dev/null | sed -n 's/^Database system identifier:[[:space:]]*//p'; }

# A standalone (read-write) instance: the replication primary or a shard. Sets PG_REBUILT=1 if it
# had to be (re)created from scratch.
PG_REBUILT=0
ensure_pg_standalone() { # NAME DIR PORT
  local name=$1 dir=$2 port=$3 state
  PG_REBUILT=0
  state=$(pg_state "$dir" "$port")
  case $state in
    foreign) die "port $port is used by another server (not $dir); set SCALEKIT_* ports, see docs/services.md" ;;
    up) log "$name :$port up" ;;
    down)
      if pg_valid_dir "$dir" primary && pg_start "$name" "$dir" "$port"; then
        log "$name :$port started from $dir"
      else
        [[ -e $dir ]] && log "$name: data dir $dir is missing or broken, rebuilding"
        pg_stop "$dir"
        rm -rf -- "$dir"
        pg_initdb "$dir"
        pg_start "$name" "$dir" "$port" || die "$name did not start"
        PG_REBUILT=1
        log "$name :$port initialised in $dir"
      fi
      ;;
  esac
  ensure_test_db_and_root "$port" || die "cannot connect to $name on :$port"
}

drop_slot() { # SLOT (on the dedicated primary; waits for a departing walsender to let go)
  local i
  for ((i = 0; i < 50; i++)); do
    pgq "$PG_PRIMARY_PORT" postgres -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots
      where slot_name = '$1' and not active" >/dev/null 2>&1 || true
    [[ -z $(pgq "$PG_PRIMARY_PORT" postgres -c "select 1 from pg_replication_slots where slot_name = '$1'") ]] && return 0
    sleep 0.2
  done
  die "replication slot $1 on :$PG_PRIMARY_PORT stays active; is an old replica still running?"
}

rebuild_replica() { # NAME DIR PORT SLOT
  local name=$1 dir=$2 port=$3 slot=$4
  pg_stop "$dir"
  rm -rf -- "$dir"
  drop_slot "$slot"
  as_postgres "$PGBIN/pg_basebackup" -h "$HOST" -p "$PG_PRIMARY_PORT" -U postgres -D "$dir" \
    -R -X stream -C -S "$slot" -c fast -N ||
    die "pg_basebackup for $name failed"
  # -R put primary_conninfo/primary_slot_name into postgresql.auto.conf; scalekit.conf owns them
  # (so a changed primary port is picked up on the next start).
  sed -i -e '/^primary_conninfo/d' -e '/^primary_slot_name/d' "$dir/postgresql.auto.conf"
  pg_start "$name" "$dir" "$port" "$slot" || die "$name did not start"
  log "$name :$port built with pg_basebackup (slot $slot)"
}

ensure_pg_replica() { # NAME DIR PORT SLOT FORCE_REBUILD PRIMARY_SYSID
  local name=$1 dir=$2 port=$3 slot=$4 force=$5 sysid=$6 state info
  state=$(pg_state "$dir" "$port")
  [[ $state != foreign ]] || die "port $port is used by another server (not $dir); see docs/services.md"
  if ((force)); then
    rebuild_replica "$name" "$dir" "$port" "$slot"
    return
  fi
  if [[ $state == up ]]; then
    info=$(pgq "$port" postgres -c "select pg_is_in_recovery(), system_identifier from pg_control_system()" || true)
    if [[ $info == "t|$sysid" ]]; then
      log "$name :$port up"
      return
    fi
    log "$name: running but not a standby of :$PG_PRIMARY_PORT (promoted?), rebuilding"
  elif pg_valid_dir "$dir" replica && [[ $(pg_sysid_dir "$dir") == "$sysid" ]] &&
    pg_start "$name" "$dir" "$port" "$slot"; then
    log "$name :$port started from $dir"
    return
  elif [[ -e $dir ]]; then
    log "$name: data dir $dir is missing, broken or from another primary, rebuilding"
  fi
  rebuild_replica "$name" "$dir" "$port" "$slot"
}

replica_streaming() { [[ $(pgq "$1" postgres -c "select pg_is_in_recovery(), (select status from pg_stat_wal_receiver)" 2>/dev/null || true) == "t|streaming" ]]; }

ensure_replication() {
  prepare_pg_root
  local primary=$PG_ROOT/primary replica=$PG_ROOT/replica replica2=$PG_ROOT/replica2 force sysid
  ensure_pg_standalone pg-primary "$primary" "$PG_PRIMARY_PORT"
  force=$PG_REBUILT
  sysid=$(pg_sysid_running "$PG_PRIMARY_PORT") || die "cannot read the primary's system identifier"
  ensure_pg_replica pg-replica "$replica" "$PG_REPLICA_PORT" "$SLOT_REPLICA" "$force" "$sysid"
  ensure_pg_replica pg-replica2 "$replica2" "$PG_REPLICA2_PORT" "$SLOT_REPLICA2" "$force" "$sysid"
  local name dir port slot
  for name in pg-replica pg-replica2; do
    if [[ $name == pg-replica ]]; then dir=$replica port=$PG_REPLICA_PORT slot=$SLOT_REPLICA
    else dir=$replica2 port=$PG_REPLICA2_PORT slot=$SLOT_REPLICA2; fi
    replica_streaming "$port" && continue
    if ! wait_for 30 "$name to stream from :$PG_PRIMARY_PORT" replica_streaming "$port"; then
      log "$name is not streaming, rebuilding it"
      rebuild_replica "$name" "$dir" "$port" "$slot"
      wait_for 60 "$name to stream" replica_streaming "$port" || die "$name does not stream (see $PG_LOG_DIR/$name.log)"
    fi
  done
}

ensure_shards() {
  prepare_pg_root
  local i
  for i in "${!PG_SHARD_PORTS[@]}"; do
    ensure_pg_standalone "pg-shard$((i + 1))" "$PG_ROOT/shard$((i + 1))" "${PG_SHARD_PORTS[$i]}"
  done
}

# ---------------------------------------------------------------- Redis Cluster

redis_node_dir() { printf '%s/%s' "$REDIS_ROOT" "$1"; }

redis_state() { # PORT -> up | foreign | down
  local port=$1 lines=()
  if ! redis_ping "$port"; then
    if tcp_open "$port"; then echo foreign; else echo down; fi
    return
  fi
  mapfile -t lines < <(rcli "$port" config get dir || true)
  if [[ ${lines[1]:-} == "$(redis_node_dir "$port")" ]]; then echo up; else echo foreign; fi
}

redis_node_start() { # PORT
  local port=$1 dir
  dir=$(redis_node_dir "$port")
  mkdir -p "$dir" "$REDIS_ROOT/log"
  redis-server --port "$port" --bind "$HOST" --daemonize yes \
    --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 5000 \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$REDIS_ROOT/log/redis-$port.log" \
    --save "" --appendonly no </dev/null >/dev/null
}

port_closed() { ! tcp_open "$1"; }

redis_node_stop() { # PORT : only a node whose working dir is ours (never the standard Redis)
  local port=$1 dir pid cmdline
  dir=$(redis_node_dir "$port")
  if [[ $(redis_state "$port") == up ]]; then
    rcli "$port" shutdown nosave now >/dev/null || true
    wait_for 15 "redis :$port to stop" port_closed "$port" || die "redis :$port does not stop"
  elif [[ -f $dir/redis.pid ]]; then
    pid=$(<"$dir/redis.pid")
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ && $cmdline == redis-server*":$port"* ]]; then
      kill "$pid" 2>/dev/null || true
      wait_for 15 "redis :$port to stop" eval "[[ ! -e /proc/$pid ]]" || die "redis :$port does not stop"
    fi
  fi
  rm -f "$dir/redis.pid"
}

# Wait until a cluster node answers; give up early when its process is gone (e.g. it refused a
# corrupt nodes.conf). Redis names its process "redis-server 127.0.0.1:PORT [cluster]".
redis_node_wait() { # PORT
  local port=$1 i
  for ((i = 0; i < 75; i++)); do
    redis_ping "$port" && return 0
    if ((i >= 5)) && ! pgrep -f "^redis-server [^ ]*:$port( |$)" >/dev/null; then return 1; fi
    sleep 0.2
  done
  return 1
}

cluster_field() { # INFO FIELD
  printf '%s\n' "$1" | tr -d '\r' | sed -n "s/^$2://p"
}

# All nodes agree: state ok, all slots assigned, every node knows the 6 configured addresses.
cluster_healthy() {
  local port info want have
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    info=$(rcli "$port" cluster info) || return 1
    [[ $(cluster_field "$info" cluster_state) == ok && $(cluster_field "$info" cluster_slots_assigned) == 16384 &&
      $(cluster_field "$info" cluster_known_nodes) == "${#REDIS_CLUSTER_PORTS[@]}" ]] || return 1
  done
  want=$(printf "$HOST:%s\n" "${REDIS_CLUSTER_PORTS[@]}" | sort | tr '\n' ' ')
  have=$(rcli "${REDIS_CLUSTER_PORTS[0]}" cluster nodes | awk '{ sub(/@.*/, "", $2); print $2 }' | sort | tr '\n' ' ')
  [[ $have == "$want" ]]
}

# Count the nodes that know no other node and own no slot (a fresh node without nodes.conf).
cluster_fresh_count() {
  local port info n=0
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    info=$(rcli "$port" cluster info || true)
    if [[ $(cluster_field "$info" cluster_known_nodes) == 1 && $(cluster_field "$info" cluster_slots_assigned) == 0 &&
      $(rcli "$port" dbsize || true) == 0 ]]; then n=$((n + 1)); fi
  done
  echo "$n"
}

cluster_create() {
  local nodes=() port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do nodes+=("$HOST:$port"); done
  log "redis-cli --cluster create ${nodes[*]} --cluster-replicas 1"
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
    >"$REDIS_ROOT/log/cluster-create.log" 2>&1 ||
    { cat "$REDIS_ROOT/log/cluster-create.log" >&2; die "redis cluster create failed"; }
}

cluster_wipe() {
  local port dir
  log "redis cluster: wiping node state and recreating"
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do redis_node_stop "$port"; done
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    dir=$(redis_node_dir "$port")
    rm -f "$dir/nodes.conf" "$dir/dump.rdb" "$dir"/appendonly*
    redis_node_start "$port"
  done
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis_node_wait "$port" || die "redis :$port did not start (see $REDIS_ROOT/log/redis-$port.log)"
  done
}

ensure_redis_cluster() {
  prepare_state_dir
  mkdir -p "$REDIS_ROOT/log"
  local port state started=() broken=0
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    state=$(redis_state "$port")
    case $state in
      foreign) die "port $port is used by another server (not $(redis_node_dir "$port")); see docs/services.md" ;;
      up) ;;
      down) redis_node_start "$port" || true; started+=(":$port") ;;
    esac
  done
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    if ! redis_node_wait "$port"; then
      # Typically a corrupt nodes.conf: start this node clean, the cluster gets recreated below.
      log "redis :$port does not start, discarding its nodes.conf"
      rm -f "$(redis_node_dir "$port")/nodes.conf"
      redis_node_start "$port" || true
      redis_node_wait "$port" || die "redis :$port does not start (see $REDIS_ROOT/log/redis-$port.log)"
      broken=1
    fi
  done
  ((${#started[@]} == 0)) || log "redis cluster nodes started: ${started[*]}"

  if ((broken == 0)) && cluster_healthy; then
    log "redis cluster up (cluster_state:ok)"
    return
  fi
  local fresh
  fresh=$(cluster_fresh_count)
  if ((fresh == ${#REDIS_CLUSTER_PORTS[@]})); then
    cluster_create
  elif ((broken == 0 && fresh == 0)) && wait_for 20 "the redis cluster to re-form" cluster_healthy; then
    log "redis cluster re-formed from nodes.conf (cluster_state:ok)"
    return
  else
    cluster_wipe
    cluster_create
  fi
  wait_for 30 "cluster_state:ok on all redis nodes" cluster_healthy || die "redis cluster is not ok (see $REDIS_ROOT/log/)"
  log "redis cluster formed (cluster_state:ok)"
}

# ---------------------------------------------------------------- RabbitMQ cluster

# The Debian package's scripts, called directly: its /usr/sbin wrappers switch to the rabbitmq
# user and read /etc/rabbitmq (whose config pins the listener to 5672). Cluster nodes run as root
# with everything of their own under $RABBIT_ROOT: cookie (HOME), config, data, logs, no plugins.
RABBIT_BIN=/usr/lib/rabbitmq/bin

rabbit_node_name() { printf '%s-%s@localhost' "$RABBIT_CLUSTER_PREFIX" "$(($1 + 1))"; } # INDEX
rabbit_node_dir() { printf '%s/%s-%s' "$RABBIT_ROOT" "$RABBIT_CLUSTER_PREFIX" "$(($1 + 1))"; }
rabbit_dist_port() { printf '%s' "$((RABBIT_CLUSTER_PORTS[$1] + 20000))"; }

rabbit_index() { # PORT -> INDEX
  local i
  for i in "${!RABBIT_CLUSTER_PORTS[@]}"; do
    if [[ ${RABBIT_CLUSTER_PORTS[$i]} == "$1" ]]; then echo "$i"; return 0; fi
  done
  die "$1 is not a port of the RabbitMQ cluster (SCALEKIT_RABBIT_CLUSTER_PORTS=$(join_by , "${RABBIT_CLUSTER_PORTS[@]}"))"
}

# rabbit_run INDEX CMD... : run CMD with node INDEX's RabbitMQ environment.
rabbit_run() {
  local i=$1 dir
  shift
  dir=$(rabbit_node_dir "$i")
  (cd "$RABBIT_ROOT" && exec env HOME="$RABBIT_ROOT/home" ERL_EPMD_ADDRESS="$HOST" \
    RABBITMQ_CONF_ENV_FILE="$RABBIT_ROOT/rabbitmq-env.conf" \
    RABBITMQ_NODENAME="$(rabbit_node_name "$i")" \
    RABBITMQ_NODE_IP_ADDRESS="$HOST" RABBITMQ_NODE_PORT="${RABBIT_CLUSTER_PORTS[$i]}" \
    RABBITMQ_DIST_PORT="$(rabbit_dist_port "$i")" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_PID_FILE="$dir/rabbitmq.pid" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_ROOT/enabled_plugins" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    "$@")
}

rctl() { # INDEX rabbitmqctl-args... (against node INDEX)
  local i=$1
  shift
  rabbit_run "$i" timeout 120 "$RABBIT_BIN/rabbitmqctl" -q -n "$(rabbit_node_name "$i")" "$@" </dev/null
}

rabbit_pid() { # INDEX -> pid of our node's VM (from its pidfile, checked against /proc), or fail
  local pidfile pid
  pidfile=$(rabbit_node_dir "$1")/rabbitmq.pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # The node name is in the VM's environment, not on its command line.
  grep -qxF -- "RABBITMQ_NODENAME=$(rabbit_node_name "$1")" < <(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null) ||
    return 1
  echo "$pid"
}

rabbit_state() { # INDEX -> up | starting | foreign | down
  if rabbit_pid "$1" >/dev/null; then
    if tcp_open "${RABBIT_CLUSTER_PORTS[$1]}"; then echo up; else echo starting; fi
  elif tcp_open "${RABBIT_CLUSTER_PORTS[$1]}" || tcp_open "$(rabbit_dist_port "$1")"; then
    echo foreign
  else
    echo down
  fi
}

prepare_rabbit_root() {
  prepare_state_dir
  [[ -x $RABBIT_BIN/rabbitmq-server ]] || die "RabbitMQ's scripts are not in $RABBIT_BIN (apt-get install rabbitmq-server)"
  install -d -m 755 "$RABBIT_ROOT"
  install -d -m 700 "$RABBIT_ROOT/home"
  if [[ ! -s $RABBIT_ROOT/home/.erlang.cookie ]]; then
    (umask 077 && printf 'SK%s' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$RABBIT_ROOT/home/.erlang.cookie")
  fi
  chmod 400 "$RABBIT_ROOT/home/.erlang.cookie"
  printf '# scripts/services.sh: the cluster nodes read this file, not /etc/rabbitmq/rabbitmq-env.conf\n' \
    >"$RABBIT_ROOT/rabbitmq-env.conf"
  printf '[].\n' >"$RABBIT_ROOT/enabled_plugins"
}

rabbit_node_start() { # INDEX: start the VM (returns at once; rabbit_node_wait waits for it)
  local i=$1 dir j
  dir=$(rabbit_node_dir "$i")
  mkdir -p "$dir/mnesia" "$dir/log"
  {
    printf 'listeners.tcp.1 = %s:%s\n' "$HOST" "${RABBIT_CLUSTER_PORTS[$i]}"
    # A blank node joins the first of these that runs when it boots (no stop_app/join_cluster).
    printf 'cluster_formation.peer_discovery_backend = classic_config\n'
    for j in "${!RABBIT_CLUSTER_PORTS[@]}"; do
      printf 'cluster_formation.classic_config.nodes.%s = %s\n' "$((j + 1))" "$(rabbit_node_name "$j")"
    done
  } >"$dir/rabbitmq.conf"
  rm -f "$dir/rabbitmq.pid"
  rabbit_run "$i" "$RABBIT_BIN/rabbitmq-server" -detached </dev/null >/dev/null 2>&1 || true
}

# INDEX: until AMQP answers on its port (the listener opens last in a boot). Polls the port, not
# rabbitmqctl: each rabbitmqctl call boots an Erlang VM (seconds on a loaded machine).
rabbit_node_wait() {
  local i=$1 k port=${RABBIT_CLUSTER_PORTS[$1]}
  for ((k = 0; k < 900; k++)); do
    if tcp_open "$port"; then
      wait_for 30 "RabbitMQ node $(rabbit_node_name "$i") on :$port" amqp_ping "$port" && return 0
      break
    fi
    # The VM writes its pidfile early; give up once it is gone (a boot that failed).
    if ((k >= 50)) && ! rabbit_pid "$i" >/dev/null; then break; fi
    sleep 0.2
  done
  die "RabbitMQ node $(rabbit_node_name "$i") did not start on :$port (see $(rabbit_node_dir "$i")/log/)"
}

rabbit_node_stop() { # INDEX: only our node (by its pidfile), never the standard broker
  local i=$1 pid
  pid=$(rabbit_pid "$i") || { rm -f "$(rabbit_node_dir "$i")/rabbitmq.pid"; return 0; }
  if ! rctl "$i" stop "$(rabbit_node_dir "$i")/rabbitmq.pid" >/dev/null 2>&1; then
    kill "$pid" 2>/dev/null || true
    wait_for 30 "RabbitMQ node $(rabbit_node_name "$i") to exit" eval "[[ ! -e /proc/$pid ]]" ||
      die "RabbitMQ node $(rabbit_node_name "$i") (pid $pid) does not stop"
  fi
  rm -f "$(rabbit_node_dir "$i")/rabbitmq.pid"
}

rabbit_running_nodes() { # INDEX -> the cluster's running nodes as node INDEX sees them, one a line
  rctl "$1" cluster_status --formatter json 2>/dev/null | grep -o '"running_nodes":\[[^]]*\]' |
    grep -o '"[^"]*@[^"]*"' | tr -d '"'
}

# rabbit_join INDEX SEED: make node INDEX a member of SEED's cluster unless it runs in it already.
rabbit_join() {
  local i=$1 seed=$2 me
  me=$(rabbit_node_name "$i")
  rabbit_running_nodes "$seed" | grep -qxF -- "$me" && return 0
  log "rabbitmqctl -n $me join_cluster $(rabbit_node_name "$seed")"
  rctl "$i" stop_app >/dev/null
  if ! rctl "$i" join_cluster "$(rabbit_node_name "$seed")" >/dev/null 2>&1; then
    # It still believes in another cluster (e.g. the seed was wiped): start it clean.
    rctl "$i" reset >/dev/null 2>&1 || rctl "$i" force_reset >/dev/null
    rctl "$i" join_cluster "$(rabbit_node_name "$seed")" >/dev/null ||
      die "$me could not join $(rabbit_node_name "$seed") (see $(rabbit_node_dir "$i")/log/)"
  fi
  rctl "$i" start_app >/dev/null
}

# The cluster's running nodes as node INDEX sees them, compared with all configured nodes.
rabbit_cluster_complete() {
  local want have
  want=$(for i in "${!RABBIT_CLUSTER_PORTS[@]}"; do rabbit_node_name "$i"; echo; done | sort | tr '\n' ' ')
  have=$(rabbit_running_nodes "$1" | sort | tr '\n' ' ')
  [[ $have == "$want" ]]
}

ensure_rabbit_cluster() {
  prepare_rabbit_root
  local i state started=() waiting=()
  if [[ ! -d $(rabbit_node_dir 0)/mnesia/$(rabbit_node_name 0) && $(rabbit_state 0) == down ]]; then
    # A new cluster: the first node boots alone, the others find it when they boot and join it.
    rabbit_node_start 0
    rabbit_node_wait 0
    started+=("$(rabbit_node_name 0)")
  fi
  for i in "${!RABBIT_CLUSTER_PORTS[@]}"; do
    state=$(rabbit_state "$i")
    case $state in
      foreign) die "port ${RABBIT_CLUSTER_PORTS[$i]} or $(rabbit_dist_port "$i") is used by another server (not $(rabbit_node_name "$i")); see docs/services.md" ;;
      up) ;;
      starting) waiting+=("$i") ;;
      down) rabbit_node_start "$i"; started+=("$(rabbit_node_name "$i")") waiting+=("$i") ;;
    esac
  done
  # Started together, waited for after: a node that stopped while others ran waits for them to boot.
  for i in "${waiting[@]}"; do rabbit_node_wait "$i"; done
  ((${#started[@]} == 0)) || log "rabbitmq cluster nodes started: ${started[*]}"
  if rabbit_cluster_complete 0; then
    log "rabbitmq cluster up (${#RABBIT_CLUSTER_PORTS[@]} nodes running)"
    return
  fi
  for ((i = 1; i < ${#RABBIT_CLUSTER_PORTS[@]}; i++)); do rabbit_join "$i" 0; done
  wait_for 30 "all RabbitMQ nodes to run in one cluster" rabbit_cluster_complete 0 ||
    die "the RabbitMQ cluster did not form (see $RABBIT_ROOT/*/log/)"
  log "rabbitmq cluster formed: $(rabbit_running_nodes 0 | tr '\n' ' ')"
}

# rabbit-node stop|start PORT: one node, for fault scenarios. start rejoins it if it left.
cmd_rabbit_node() {
  local action=${1:-} port=${2:-} i j seed=''
  [[ ($action == stop || $action == start) && -n $port && $# -eq 2 ]] || {
    usage >&2
    die "usage: rabbit-node stop|start <port>"
  }
  i=$(rabbit_index "$port")
  prepare_rabbit_root
  if [[ $action == stop ]]; then
    rabbit_node_stop "$i"
    log "stopped rabbitmq node $(rabbit_node_name "$i") (:$port)"
    return
  fi
  case $(rabbit_state "$i") in
    foreign) die "port $port is used by another server (not $(rabbit_node_name "$i"))" ;;
    down) rabbit_node_start "$i" ;;
  esac
  rabbit_node_wait "$i"
  for j in "${!RABBIT_CLUSTER_PORTS[@]}"; do
    if ((j != i)) && [[ $(rabbit_state "$j") == up ]]; then seed=$j; break; fi
  done
  if [[ -n $seed ]]; then rabbit_join "$i" "$seed"; fi
  log "rabbitmq node $(rabbit_node_name "$i") (:$port) up, cluster: $(rabbit_running_nodes "$i" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local replica=0 shards=0 cluster=0 rabbit=0 arg t0=$EPOCHREALTIME
  for arg in "$@"; do
    case $arg in
      --replica) replica=1 ;;
      --shards) shards=1 ;;
      --redis-cluster) cluster=1 ;;
      --rabbit-cluster) rabbit=1 ;;
      --all) replica=1 shards=1 cluster=1 rabbit=1 ;;
      -h | --help) usage; return ;;
      *) usage >&2; die "unknown option for up: $arg" ;;
    esac
  done
  ensure_base $((replica || shards)) "$cluster"
  # Plain `if` (not `&&`): errexit stays active inside these functions.
  if ((replica)); then ensure_replication; fi
  if ((shards)); then ensure_shards; fi
  if ((cluster)); then ensure_redis_cluster; fi
  if ((rabbit)); then ensure_rabbit_cluster; fi
  log "ready in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s (scripts/services.sh status | env)"
}

cmd_down() {
  local purge=0 only_rabbit=0 arg port dir i
  for arg in "$@"; do
    case $arg in
      --purge) purge=1 ;;
      --rabbit-cluster) only_rabbit=1 ;;
      -h | --help) usage; return ;;
      *) usage >&2; die "unknown option for down: $arg" ;;
    esac
  done
  ((purge == 0 || only_rabbit == 0)) || die "down: --purge and --rabbit-cluster do not go together"
  if [[ -d $PG_ROOT ]] && ((only_rabbit == 0)); then
    resolve_pgbin || die "PostgreSQL binaries not found"
    for dir in "$PG_ROOT/replica2" "$PG_ROOT/replica" "$PG_ROOT/primary" "$PG_ROOT"/shard*; do
      if ! [[ -d $dir ]] || ! pg_running "$dir"; then continue; fi
      pg_stop "$dir"
      log "stopped ${dir##*/} ($dir)"
    done
  fi
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    dir=$(redis_node_dir "$port")
    [[ -d $dir ]] && ((only_rabbit == 0)) || continue
    if [[ $(redis_state "$port") == up || -f $dir/redis.pid ]]; then
      redis_node_stop "$port"
      log "stopped redis cluster node :$port"
    fi
  done
  if [[ -d $RABBIT_ROOT ]]; then
    for ((i = ${#RABBIT_CLUSTER_PORTS[@]} - 1; i >= 0; i--)); do
      rabbit_pid "$i" >/dev/null || continue
      rabbit_node_stop "$i"
      log "stopped rabbitmq cluster node $(rabbit_node_name "$i") (:${RABBIT_CLUSTER_PORTS[$i]})"
    done
  fi
  if ((purge)) && [[ -d $STATE_DIR ]]; then
    [[ -f $MARKER ]] || die "$STATE_DIR has no $MARKER; refusing to delete it"
    rm -rf -- "$STATE_DIR"
    log "deleted $STATE_DIR"
  fi
}

status_line() { printf '%-16s %-6s %-5s %s\n' "$@"; }

cmd_status() {
  resolve_pgbin || true
  local info primary_lsn port i dir name lines=()
  status_line COMPONENT PORT STATE ROLE/DETAIL

  if info=$(pgq "$PG_PORT" postgres -c "select case when pg_is_in_recovery() then 'in recovery' else 'primary' end, version()" 2>/dev/null); then
    status_line postgres "$PG_PORT" up "${info%%|*}, $(awk '{print $1, $2}' <<<"${info#*|}")"
  elif pg_ready "$PG_PORT"; then status_line postgres "$PG_PORT" up "(no trust auth for postgres@$HOST)"
  else status_line postgres "$PG_PORT" down "system cluster"; fi
  if redis_ping "$REDIS_PORT"; then
    status_line redis "$REDIS_PORT" up "standalone, $(rcli "$REDIS_PORT" info server | tr -d '\r' | sed -n 's/^redis_version:/redis /p')"
  else status_line redis "$REDIS_PORT" down standalone; fi
  if tcp_open "$AMQP_PORT"; then status_line rabbitmq "$AMQP_PORT" up broker
  else status_line rabbitmq "$AMQP_PORT" down broker; fi

  # Replication topology.
  primary_lsn=''
  if info=$(pgq "$PG_PRIMARY_PORT" postgres -c "select pg_is_in_recovery(), pg_current_wal_lsn(),
      (select count(*) from pg_stat_replication where state = 'streaming')" 2>/dev/null); then
    IFS='|' read -r _ primary_lsn i <<<"$info"
    status_line pg-primary "$PG_PRIMARY_PORT" up "primary, $i replica(s) streaming, wal at $primary_lsn"
  else
    status_line pg-primary "$PG_PRIMARY_PORT" down "$(pg_dir_note "$PG_ROOT/primary") (up --replica)"
  fi
  for name in pg-replica pg-replica2; do
    if [[ $name == pg-replica ]]; then port=$PG_REPLICA_PORT dir=$PG_ROOT/replica; else port=$PG_REPLICA2_PORT dir=$PG_ROOT/replica2; fi
    if info=$(pgq "$port" postgres -F ', ' -c "select case when pg_is_in_recovery() then 'in recovery' else 'NOT in recovery' end,
        coalesce((select status from pg_stat_wal_receiver), 'no wal receiver'),
        case when pg_is_in_recovery() and pg_is_wal_replay_paused() then 'replay PAUSED' else 'replaying' end,
        case when '$primary_lsn' = '' or not pg_is_in_recovery() then 'lag unknown'
          else 'lag ' || greatest(0, pg_wal_lsn_diff('${primary_lsn:-0/0}', pg_last_wal_replay_lsn())) || ' bytes' end,
        'apply delay ' || current_setting('recovery_min_apply_delay')" 2>/dev/null); then
      status_line "$name" "$port" up "$info"
    else
      status_line "$name" "$port" down "$(pg_dir_note "$dir") (up --replica)"
    fi
  done

  for i in "${!PG_SHARD_PORTS[@]}"; do
    port=${PG_SHARD_PORTS[$i]} name=pg-shard$((i + 1))
    if info=$(pgq "$port" postgres -c "select case when pg_is_in_recovery() then 'in recovery' else 'primary' end" 2>/dev/null); then
      status_line "$name" "$port" up "$info, shard $((i + 1))/${#PG_SHARD_PORTS[@]}"
    else
      status_line "$name" "$port" down "$(pg_dir_note "$PG_ROOT/shard$((i + 1))") (up --shards)"
    fi
  done

  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    if redis_ping "$port"; then
      mapfile -t lines < <(rcli "$port" role || true)
      info=$(rcli "$port" cluster info || true)
      case ${lines[0]:-} in
        master) name="master" ;;
        slave) name="replica of ${lines[1]:-?}:${lines[2]:-?}" ;;
        *) name=${lines[0]:-unknown} ;;
      esac
      status_line redis-cluster "$port" up "$name, cluster_state:$(cluster_field "$info" cluster_state)"
    else
      if [[ -d $(redis_node_dir "$port") ]]; then info=stopped; else info="not set up"; fi
      status_line redis-cluster "$port" down "$info (up --redis-cluster)"
    fi
  done

  # One rabbitmqctl call (about a second) for the cluster's view, asked of the first node that runs.
  local running='' seen=0
  for i in "${!RABBIT_CLUSTER_PORTS[@]}"; do
    if ((seen == 0)) && [[ -d $RABBIT_ROOT ]] && tcp_open "${RABBIT_CLUSTER_PORTS[$i]}"; then
      seen=1
      running=$(rabbit_running_nodes "$i" 2>/dev/null | tr '\n' ' ' || true)
    fi
  done
  for i in "${!RABBIT_CLUSTER_PORTS[@]}"; do
    port=${RABBIT_CLUSTER_PORTS[$i]} name=$(rabbit_node_name "$i")
    if tcp_open "$port"; then
      if [[ " $running " == *" $name "* ]]; then info="running in the cluster ($(wc -w <<<"$running") nodes running)"
      elif [[ -n $running ]]; then info="NOT in the cluster of $running"
      else info="cluster status unknown (rabbitmqctl needs root: the cookie is $RABBIT_ROOT/home/.erlang.cookie)"; fi
      status_line rabbit-cluster "$port" up "$name, $info"
    else
      if [[ -d $(rabbit_node_dir "$i") ]]; then info=stopped; else info="not set up"; fi
      status_line rabbit-cluster "$port" down "$name, $info (up --rabbit-cluster)"
    fi
  done
}

pg_dir_note() { if [[ -d $1 ]]; then echo "stopped, data in $1"; else echo "not set up"; fi; }

cmd_env() {
  local var val
  for var in "${URL_VARS[@]}"; do
    val=${!var}
    printf "export %s='%s'\n" "$var" "${val//\'/\'\\\'\'}"
  done
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case $cmd in
    up | down)
      validate_ports
      [[ $EUID -eq 0 ]] || die "$cmd must run as root"
      if [[ ${SCALEKIT_SERVICES_LOCKED:-} != 1 ]]; then
        # Serialise concurrent up/down; -o keeps the lock fd out of the daemons we start.
        SCALEKIT_SERVICES_LOCKED=1 exec flock -w 900 -o "$LOCK_FILE" "$BASH" "$SCRIPT_PATH" "$cmd" "$@"
      fi
      "cmd_$cmd" "$@"
      ;;
    rabbit-node)
      validate_ports
      [[ $EUID -eq 0 ]] || die "$cmd must run as root"
      if [[ ${SCALEKIT_SERVICES_LOCKED:-} != 1 ]]; then
        SCALEKIT_SERVICES_LOCKED=1 exec flock -w 900 -o "$LOCK_FILE" "$BASH" "$SCRIPT_PATH" "$cmd" "$@"
      fi
      cmd_rabbit_node "$@"
      ;;
    status) validate_ports; cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    '') usage >&2; exit 2 ;;
    *) usage >&2; die "unknown command: $cmd" ;;
  esac
}

main "$@"
