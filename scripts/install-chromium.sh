#!/usr/bin/env bash
# Install Debian's Chromium for tests/test_report_browser.py, which opens the
# rendered HTML report headless, checks every image loaded with no console
# error, and takes a screenshot. Idempotent: exits at once when
# /usr/bin/chromium is already there.
#
# Fonts: fonts-dejavu-core, so the screenshot renders text even on a minimal
# image (Chromium's own package only recommends fonts).
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PACKAGES=(chromium fonts-dejavu-core)

log() { echo "install-chromium: $*" >&2; }

report() {
    echo "chromium: $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
}

if [[ -x $CHROMIUM ]]; then
    report
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root to install packages (or install chromium yourself)"
    exit 1
fi

log "apt-get update"
apt-get update -qq
log "installing ${PACKAGES[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null

[[ -x $CHROMIUM ]] || { log "$CHROMIUM not found after installing chromium"; exit 1; }
report
