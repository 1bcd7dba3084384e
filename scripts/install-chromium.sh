#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the report's browser test, when missing.
# Needs root (or sudo) and Debian's package registry; says so and exits 0 otherwise, so that
# `make test` still runs everything else (the browser test then fails in CI, skips locally).
set -uo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo -n"; else
    echo "install-chromium: not root and no sudo; install chromium and chromium-driver yourself" >&2; exit 0
  fi
fi
if ! command -v apt-get >/dev/null; then
  echo "install-chromium: no apt-get; install Chromium and ChromeDriver yourself" >&2; exit 0
fi
echo "install-chromium: installing chromium and chromium-driver (Debian packages)" >&2
$SUDO apt-get update -qq >/dev/null && \
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null \
  || echo "install-chromium: apt-get failed; the browser test cannot run" >&2
exit 0
