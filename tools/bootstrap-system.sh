#!/usr/bin/env bash
# Installs the system packages covekit builds against, when they are missing.
# Debian/Ubuntu only; uses sudo when not root. Idempotent: does nothing when all
# packages are present.
set -euo pipefail

pkgs=(g++ make pkg-config libhnswlib-dev libsimdjson-dev libxxhash-dev libpcre2-dev libgtest-dev libbenchmark-dev
      chromium)  # headless screenshots of the HTML the tests render (Answer cards, reports)
# The system python needs its venv module split out on Debian.
py="${PYTHON:-python3}"
if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  pkgs+=("python${ver}-venv" python3-venv)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "covekit: missing system packages (${missing[*]}) and no apt-get here; install them by hand." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "covekit: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "covekit: installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# python3.X-venv may not exist under that name on every release: install what exists.
installable=()
for p in "${missing[@]}"; do
  if apt-cache show "$p" >/dev/null 2>&1; then installable+=("$p"); fi
done
$sudo apt-get install -y -qq --no-install-recommends "${installable[@]}"
