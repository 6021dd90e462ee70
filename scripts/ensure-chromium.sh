#!/usr/bin/env bash
# Make sure a headless Chromium is there for the browser test of `reconcile report`
# (tests/report/test_browser.py). Installs Debian's chromium where it is missing.
# Exits non-zero, saying why, when it cannot: the test then fails too (it never skips).
set -euo pipefail

if [ -n "${RECONCILER_CHROMIUM:-}" ]; then
  if [ -x "$RECONCILER_CHROMIUM" ]; then exit 0; fi
  echo "RECONCILER_CHROMIUM=$RECONCILER_CHROMIUM is not an executable file" >&2; exit 1
fi
for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then exit 0; fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is missing and there is no apt-get to install it: install Chromium, or set" \
       "RECONCILER_CHROMIUM to its path" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "Chromium is missing; installing it needs root: sudo apt-get install chromium" >&2
  exit 1
fi
echo "Chromium is not installed; installing Debian's chromium ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "installing chromium did not give a chromium command" >&2; exit 1; }
echo "Chromium installed: $(chromium --version 2>/dev/null || echo '?')" >&2
