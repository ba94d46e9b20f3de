#!/usr/bin/env bash
# Makes sure PostgreSQL (with pgvector), Redis and RabbitMQ are installed and running.
# Idempotent: installs what is missing, starts what is stopped, waits until each answers.
set -euo pipefail

log() { echo "[services] $*"; }

wait_for() {  # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then log "$name is up"; return 0; fi
    sleep 1
  done
  log "$name did not come up"; return 1
}

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL + pgvector
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing PostgreSQL"; apt_install postgresql
fi
PG_VERSION=$(ls /etc/postgresql | sort -n | tail -1)
PG_CONFIG="/usr/lib/postgresql/${PG_VERSION}/bin/pg_config"
if [ ! -f "$("$PG_CONFIG" --sharedir 2>/dev/null)/extension/vector.control" ]; then
  if apt-cache show "postgresql-${PG_VERSION}-pgvector" >/dev/null 2>&1 || \
     { apt-get update -qq >/dev/null; APT_UPDATED=1; apt-cache show "postgresql-${PG_VERSION}-pgvector" >/dev/null 2>&1; }; then
    log "installing postgresql-${PG_VERSION}-pgvector"; apt_install "postgresql-${PG_VERSION}-pgvector"
  else
    # Debian ships pgvector binaries only for newer PostgreSQL releases: build Debian's own source
    # package (trixie) against this server's headers.
    log "building pgvector from Debian's source package for PostgreSQL ${PG_VERSION}"
    apt_install "postgresql-server-dev-${PG_VERSION}" make gcc
    work=$(mktemp -d)
    mkdir -p "$work/lists/partial"
    # The archive this machine's apt already uses (never a host written here), at the newer suite.
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    archive=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk -v s="$codename" '$2 == s {print $1; exit}')
    [ -n "$archive" ] || { log "no Debian archive for '$codename' in this machine's apt sources"; exit 1; }
    echo "deb-src ${archive} trixie main" > "$work/sources.list"
    apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists")
    apt-get "${apt_opts[@]}" update -qq >/dev/null
    (cd "$work" && apt-get "${apt_opts[@]}" source --download-only pgvector >/dev/null 2>&1)
    tar -xzf "$work"/pgvector_*.orig.tar.gz -C "$work"
    make -s -C "$work"/pgvector-*/ PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null
    make -s -C "$work"/pgvector-*/ install PG_CONFIG="$PG_CONFIG" >/dev/null
    rm -rf "$work"
  fi
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  log "starting PostgreSQL ${PG_VERSION}"
  pg_ctlcluster --skip-systemctl-redirect "${PG_VERSION}" main start || true
fi
wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q

# --- Redis
if ! command -v redis-server >/dev/null 2>&1; then
  log "installing Redis"; apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping

# --- RabbitMQ (Celery broker for long transcription jobs)
if ! command -v rabbitmq-server >/dev/null 2>&1; then
  log "installing RabbitMQ"; apt_install rabbitmq-server
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  log "starting RabbitMQ"
  rabbitmq-server -detached || true
fi
wait_for RabbitMQ bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672'

# --- espeak-ng: the transcription tests synthesise speech with it (they fail under CI without it)
if ! command -v espeak-ng >/dev/null 2>&1; then
  log "installing espeak-ng"; apt_install espeak-ng
fi
