#!/usr/bin/env bash
# The browser tests (tests/e2e) drive Debian's Chromium at /usr/bin/chromium. Playwright's own
# browser download is never used: it needs a host that is not a package registry.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Chromium is not installed; installing Debian's chromium package..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium </dev/null
    if [ ! -x "$CHROMIUM" ]; then
        echo "error: apt-get installed chromium but $CHROMIUM is still missing" >&2
        exit 1
    fi
    echo "Chromium installed at $CHROMIUM."
else
    cat >&2 <<MSG
*** Chromium not found at $CHROMIUM, and this script can only install it as root. ***
The browser tests under tests/e2e need it. Install it with:
    sudo apt-get update && sudo apt-get install -y chromium
Continuing without it: the browser tests will not pass until it is installed.
MSG
fi
