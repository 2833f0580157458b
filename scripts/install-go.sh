#!/usr/bin/env bash
# Install Go 1.22+ and Ginkgo v2 (CLI + library sources for GOPATH builds)
# from Debian bookworm-backports. Idempotent: exits fast when already present.
#
# The apt mirror is derived from the bookworm entry the machine already uses
# (/etc/apt/sources.list or /etc/apt/sources.list.d/*.sources); no host name
# is hard-coded here.
#
# Offline builds afterwards use GOPATH mode:
#   GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH=<dir>:/usr/share/gocode
set -euo pipefail

GO_MIN_MINOR=22
GOROOT_BIN=/usr/lib/go-1.22/bin
GOCODE=/usr/share/gocode/src
PACKAGES=(golang-1.22-go ginkgo golang-github-onsi-ginkgo-v2-dev golang-gomega-dev)

log() { echo "install-go: $*" >&2; }

export PATH="$PATH:$GOROOT_BIN"

go_ok() {
    command -v go >/dev/null 2>&1 || return 1
    local v minor
    v=$(go env GOVERSION 2>/dev/null) || return 1       # e.g. go1.22.2
    [[ $v =~ ^go1\.([0-9]+) ]] || return 1
    minor=${BASH_REMATCH[1]}
    (( minor >= GO_MIN_MINOR ))
}

ginkgo_ok() {
    command -v ginkgo >/dev/null 2>&1 || return 1
    ginkgo version 2>/dev/null | grep -Eq 'Version 2\.'
}

libs_ok() {
    [[ -d $GOCODE/github.com/onsi/ginkgo/v2 && -d $GOCODE/github.com/onsi/gomega ]]
}

link_go() {
    # Make a go >= 1.22 the first `go` on the default PATH (/usr/local/bin
    # precedes /usr/bin, where an older Debian golang-go may live).
    local sys_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    [[ -x $GOROOT_BIN/go ]] || return 0
    if ! PATH=$sys_path go_ok; then
        ln -sf "$GOROOT_BIN/go" /usr/local/bin/go
        ln -sf "$GOROOT_BIN/gofmt" /usr/local/bin/gofmt
        hash -r
        log "linked $GOROOT_BIN/go into /usr/local/bin"
    fi
}

report() {
    echo "go:     $(command -v go) ($(go env GOVERSION))"
    echo "GOROOT: $(go env GOROOT)"
    echo "ginkgo: $(command -v ginkgo) ($(ginkgo version))"
}

if go_ok && ginkgo_ok && libs_ok; then
    link_go
    report
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root to install packages"; exit 1
fi

# --- find the URI the machine already uses for bookworm -------------------
find_mirror() {
    local f uri suites
    # one-line format: deb [opts] URI bookworm comp...
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk '$1=="deb" { sub(/\[[^]]*\][ \t]*/, ""); if ($3=="bookworm") { print $2; exit } }' "$f")
        if [[ -n $uri ]]; then echo "$uri"; return 0; fi
    done
    # deb822 format: stanzas with URIs: and Suites: containing bookworm
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk '
            BEGIN { RS=""; FS="\n" }
            {
                u=""; s=""; t=""
                for (i=1; i<=NF; i++) {
                    if ($i ~ /^URIs:/)   { u=$i; sub(/^URIs:[ \t]*/, "", u) }
                    if ($i ~ /^Suites:/) { s=" " $i " "; sub(/^ Suites:/, " ", s) }
                    if ($i ~ /^Types:/)  { t=$i }
                }
                if (t ~ /deb([ \t]|$)/ && s ~ /[ \t]bookworm[ \t]/ && u != "") { split(u, a, /[ \t]+/); print a[1]; exit }
            }' "$f")
        if [[ -n $uri ]]; then echo "$uri"; return 0; fi
    done
    return 1
}

BACKPORTS_FILE=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ ; then
    mirror=$(find_mirror) || { log "no bookworm apt source found to derive a mirror from"; exit 1; }
    log "adding bookworm-backports from $mirror"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    {
        echo "Types: deb"
        echo "URIs: $mirror"
        echo "Suites: bookworm-backports"
        echo "Components: main"
        [[ -f $keyring ]] && echo "Signed-By: $keyring"
    } > "$BACKPORTS_FILE"
    need_update=1
else
    need_update=0
fi

if (( need_update )) || ! apt-cache policy golang-1.22-go 2>/dev/null | grep -q bookworm-backports; then
    log "apt-get update"
    apt-get update -qq
fi

log "installing ${PACKAGES[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports "${PACKAGES[@]}" >/dev/null

link_go
hash -r
go_ok || { log "go 1.${GO_MIN_MINOR}+ not usable after install"; exit 1; }
ginkgo_ok || { log "ginkgo v2 not usable after install"; exit 1; }
libs_ok || { log "ginkgo/gomega sources missing under $GOCODE"; exit 1; }
report
