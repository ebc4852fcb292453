#!/usr/bin/env bash
# Makes sure what `make run` and `make test` need is on this machine, installing only what is missing:
# PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 (the ones already listening are used as they are),
# Python's venv module, Node.js and npm, Pango and fonts for the PDFs, and (with --browser) Chromium for the
# browser tests.
# Installs use Debian packages and need root; a local Postgres cluster is created under var/pgdata with
# trust authentication on 127.0.0.1 (development only).
set -euo pipefail
cd "$(dirname "$0")/../.."
want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-infra: missing $*; run as root or install it: apt-get install $*" >&2
    exit 1
  fi
  if [ $apt_updated = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 120); do port_open "$1" && return 0; sleep 0.5; done
  echo "ensure-infra: nothing listening on 127.0.0.1:$1 after 60 s ($2)" >&2
  exit 1
}

python3 -c "import venv, ensurepip" 2>/dev/null || apt_install python3-venv
command -v npm >/dev/null || apt_install nodejs npm

# PEPs, blank forms and subject access exports are tagged PDFs made by WeasyPrint (shared/pdfdoc.py), which
# needs Pango and HarfBuzz, and Liberation Sans (Arial's metrics) so every name prints as written.
if command -v dpkg-query >/dev/null; then
  missing=()
  for package in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
fi

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  if ! port_open 5432; then
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$bindir" ]; then apt_install postgresql; bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); fi
    data="$PWD/var/pgdata"
    if [ ! -s "$data/PG_VERSION" ]; then
      mkdir -p "$data"
      [ "$(id -u)" = 0 ] && chown postgres "$data"
      runas=(); [ "$(id -u)" = 0 ] && runas=(su postgres -s /bin/sh -c)
      if [ ${#runas[@]} -gt 0 ]; then "${runas[@]}" "$bindir/initdb -D '$data' -U postgres -A trust" >/dev/null
      else "$bindir/initdb" -D "$data" -U postgres -A trust >/dev/null; fi
    fi
    if [ "$(id -u)" = 0 ]; then
      su postgres -s /bin/sh -c "$bindir/pg_ctl -D '$data' -l '$data/server.log' -o \"-h 127.0.0.1 -p 5432 -k /tmp\" start" >/dev/null
    else
      "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -o "-h 127.0.0.1 -p 5432 -k /tmp" start >/dev/null
    fi
  fi
  wait_port 5432 PostgreSQL
fi

# RabbitMQ keeps a file handle per quorum queue segment and socket, within a budget set from its open-files limit
# when it boots. Every queue is a quorum queue, and the test suite makes and removes thousands: at Debian's default
# of 1024 (a budget of 927) the budget fills during `make test` and new connections hang in the handshake. So it is
# started with the highest limit allowed, and a local broker already running with a low one is restarted (as root,
# keeping its data) with a higher one.
start_rabbitmq() {
  local start="ulimit -n \"\$(ulimit -Hn)\" 2>/dev/null || ulimit -n 20000 2>/dev/null || true; rabbitmq-server -detached"
  if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
    su rabbitmq -s /bin/sh -c "$start" >/dev/null 2>&1 || true
  else
    sh -c "$start" >/dev/null 2>&1 || true
  fi
}

rabbitmq_files_limit() {
  local pid
  pid=$(ss -ltnpH 'sport = :5672' 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  [ -n "$pid" ] && [ -r "/proc/$pid/limits" ] && awk '/Max open files/ {print $4}' "/proc/$pid/limits"
}

if ! port_open 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  start_rabbitmq
  wait_port 5672 RabbitMQ
else
  limit=$(rabbitmq_files_limit || true)
  if [ -n "$limit" ] && [ "$limit" -lt 4096 ]; then
    if [ "$(id -u)" = 0 ] && command -v rabbitmqctl >/dev/null; then
      echo "ensure-infra: the RabbitMQ on 127.0.0.1:5672 may open only $limit files; restarting it with more" >&2
      timeout 60 rabbitmqctl -q stop >/dev/null 2>&1 || true
      for _ in $(seq 1 60); do port_open 5672 || break; sleep 0.5; done
      start_rabbitmq
      wait_port 5672 RabbitMQ
      timeout 120 rabbitmqctl -q await_startup >/dev/null 2>&1 || true
    else
      echo "ensure-infra: warning: the RabbitMQ on 127.0.0.1:5672 may open only $limit files, too few for the" \
        "test suite's quorum queues; restart it with 'ulimit -n 20000' (as its user) first" >&2
    fi
  fi
fi

if [ $want_browser = 1 ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
