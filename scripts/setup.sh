#!/usr/bin/env bash
# Set up research-workbench on a fresh Debian machine: system packages, a virtualenv
# in .venv, the CPU build of PyTorch, then the project itself (with dev tools when
# called as `setup.sh dev`). Safe to run again: every step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-run}"
venv="${WORKBENCH_VENV:-.venv}"
py="${PYTHON:-python3}"

say() { printf '[setup] %s\n' "$*" >&2; }

# System packages: bubblewrap isolates the code sandbox. The tests also drive a real
# browser and LibreOffice. Installed only when missing.
apt_pkgs=(bubblewrap)
if [ "$mode" = dev ]; then
  # a real browser for the report and notebook tests, LibreOffice (+ metric-compatible
  # fonts) to open the deck as PowerPoint would, poppler for the visual check
  apt_pkgs+=(chromium libreoffice-impress poppler-utils fonts-crosextra-carlito fonts-dejavu-core)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
  else
    say "missing system packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
    exit 1
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  say "creating virtualenv $venv"
  "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip -q --disable-pip-version-check)

# The CPU build of torch first: an unpinned torch would pull several GB of CUDA packages.
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  say "installing torch==2.13.0 (CPU build)"
  "${pip[@]}" install "torch==2.13.0"
fi

extras=""
[ "$mode" = dev ] && extras="[dev]"
stamp="$venv/.setup-stamp-$mode-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing research-workbench$extras"
  "${pip[@]}" install -e ".$extras"
  touch "$stamp"
fi
say "ready: $venv/bin/workbench"
