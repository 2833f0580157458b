#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries (initdb, pg_ctl, postgres) for
# `pollution demo --db postgres` and tests/test_pg.py. Idempotent: exits at
# once when /usr/lib/postgresql/*/bin/initdb is already there.
#
# Only the binaries are needed: pollution.pg starts its own throwaway server
# (initdb into a temporary directory as the `postgres` user, pg_ctl start on a
# free port of 127.0.0.1) and removes it afterwards. The cluster Debian's
# package creates and starts by default is left alone.
set -euo pipefail

log() { echo "install-postgres: $*" >&2; }

have_server() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
        && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null
}

report() {
    local initdb
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)
    echo "initdb: $initdb ($("$initdb" --version))"
}

if have_server; then
    report
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root to install packages (or install postgresql yourself)"
    exit 1
fi

# Debian bookworm's postgresql is version 15; the metapackage follows the
# distribution's supported version elsewhere.
if apt-cache show postgresql-15 >/dev/null 2>&1; then
    PACKAGE=postgresql-15
else
    log "apt-get update"
    apt-get update -qq
    if apt-cache show postgresql-15 >/dev/null 2>&1; then PACKAGE=postgresql-15; else PACKAGE=postgresql; fi
fi

# No default cluster: pollution.pg makes its own, and a "main" cluster would
# only hold port 5432 and a running server.
if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
fi

install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$PACKAGE" >/dev/null
}
log "installing $PACKAGE"
if ! install; then
    log "install failed; apt-get update and one more try (stale package lists?)"
    apt-get update -qq
    install
fi

have_server || { log "initdb not found under /usr/lib/postgresql/*/bin after installing $PACKAGE"; exit 1; }
id postgres >/dev/null 2>&1 || { log "the postgres user is missing after installing $PACKAGE"; exit 1; }
report
