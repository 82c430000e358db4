#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/e2e/browser), installed when missing. Never
# `playwright install`: browser downloads do not work here; Playwright drives /usr/bin/chromium instead.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "Chromium is missing: run 'sudo apt-get install -y chromium' (Debian) and try again." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
