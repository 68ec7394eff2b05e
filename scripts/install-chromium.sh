#!/usr/bin/env bash
# Installs Debian's chromium for the browser test (test/web/browser.test.ts), which drives it through
# playwright-core; never `playwright install`, which downloads browsers. Does nothing when chromium is
# already at /usr/bin/chromium (or at $CHROMIUM_PATH), so it can run before every test run.
set -euo pipefail
path="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$path" ]; then
  echo "install-chromium: $path is there"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no chromium at $path and no apt-get to install it; install Chromium and set CHROMIUM_PATH" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium
test -x "$path" || { echo "install-chromium: apt-get installed chromium but $path is missing" >&2; exit 1; }
echo "install-chromium: installed $("$path" --version 2>/dev/null || echo chromium)"
