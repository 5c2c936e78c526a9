#!/usr/bin/env bash
# The Label Studio interop tests (tests/annotation/labelstudio/test_server.py) run a real Label
# Studio server. Label Studio pins its own Django and dozens of other packages, so it lives in a
# virtualenv of its own, apart from the platform's .venv: installing it there would downgrade
# Django under the platform.
#
#   bash scripts/ensure_label_studio.sh      # idempotent: a no-op once the pinned version is in
#
# The virtualenv is keyed by version and kept in the user's cache, outside any checkout, so that a
# fresh clone (CI) reuses it instead of spending minutes installing the same pinned packages again;
# it is installed here whenever it is missing. LABEL_STUDIO_VENV (default:
# ${XDG_CACHE_HOME:-~/.cache}/prakriya/label-studio-<version>) and PYTHON (default: python3.11) can
# be overridden.
set -euo pipefail

LABEL_STUDIO_VERSION=1.23.2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${LABEL_STUDIO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/prakriya/label-studio-$LABEL_STUDIO_VERSION}"
PYTHON="${PYTHON:-python3.11}"
MARKER="$VENV/.installed-label-studio-$LABEL_STUDIO_VERSION"

installed() { [ -f "$MARKER" ] && [ -x "$VENV/bin/label-studio" ]; }
if installed; then
    exit 0
fi
# Two checkouts installing into the shared venv at once would corrupt it: the second waits for the
# first and then finds it installed.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if installed; then
    exit 0
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON not found; Label Studio $LABEL_STUDIO_VERSION needs Python 3.11" >&2
    exit 1
fi

echo "Installing Label Studio $LABEL_STUDIO_VERSION into $VENV ..."
started=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
log="$VENV/install.log"
# pip's own output goes to a log; on failure its tail is shown so the cause is visible.
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "label-studio==$LABEL_STUDIO_VERSION" >"$log" 2>&1; then
    echo "error: pip could not install label-studio==$LABEL_STUDIO_VERSION; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
# Not `label-studio --version`: that prints the version and then goes on to start a server.
if ! "$VENV/bin/python" -c "import label_studio, sys; sys.exit(label_studio.__version__ != '$LABEL_STUDIO_VERSION')" \
        >>"$log" 2>&1; then
    echo "error: label-studio installed but does not run; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
touch "$MARKER"
echo "Label Studio $LABEL_STUDIO_VERSION installed in $(( $(date +%s) - started )) s."
