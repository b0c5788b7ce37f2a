#!/usr/bin/env bash
# `pnpm test:notebooks`: execute every notebook in notebooks/ headless on Deno's Jupyter kernel and
# fail when any cell errors. Self-contained: the kernelspec is installed under
# node_modules/.cache/r1lab-jupyter (no root, nothing in ~/.local), the kernel is the deno binary of
# the pinned `deno` devDependency, and executed copies go to a temporary folder, so the committed
# notebooks stay untouched, unless R1LAB_NOTEBOOK_WRITE=1 (`pnpm notebooks:run`): then each notebook
# that runs without error is written back in place with its outputs, made stable (see
# test-notebooks.py). Otherwise a notebook whose committed plots and results no longer match what it
# produces fails. The notebooks run their small configs (R1LAB_NOTEBOOK_SMALL=1) unless the caller
# sets R1LAB_NOTEBOOK_SMALL=0.
# Needs Python 3 with nbclient and nbformat (Debian: jupyter-core jupyter-client jupyter-nbconvert
# python3-nbclient python3-ipykernel).
#   scripts/test-notebooks.sh [NOTEBOOK...]    default: notebooks/*.ipynb
#   env: R1LAB_NOTEBOOK_CELL_TIMEOUT (seconds per cell, default 300), R1LAB_NOTEBOOK_OUT (keep the
#        executed copies there instead of a temporary folder), R1LAB_PYTHON (the Python to use),
#        R1LAB_NOTEBOOK_WRITE=1 (write the executed notebooks back into notebooks/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# A Python with nbclient: R1LAB_PYTHON, else python3 on PATH, else the system's /usr/bin/python3.
PY=""
for cand in ${R1LAB_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null && "$cand" -c "import nbclient, nbformat" 2>/dev/null; then
    PY=$cand
    break
  fi
done
if [ -z "$PY" ]; then
  echo "test:notebooks: no Python with nbclient found. On Debian/Ubuntu: apt-get install --no-install-recommends" \
    "jupyter-core jupyter-client jupyter-nbconvert python3-nbclient python3-ipykernel (or pip install nbclient ipykernel)" >&2
  exit 2
fi

# The Deno kernel: the binary from the `deno` devDependency (node_modules/.bin/deno runs it).
if [ ! -x node_modules/.bin/deno ]; then
  echo "test:notebooks: node_modules/.bin/deno is missing; run pnpm install --frozen-lockfile" >&2
  exit 2
fi
CACHE=$ROOT/node_modules/.cache/r1lab-jupyter
mkdir -p "$CACHE"
# `deno jupyter --install` writes into $XDG_DATA_HOME/jupyter/kernels/deno (kernel.json pointing at
# this deno binary); Jupyter finds it through JUPYTER_PATH.
XDG_DATA_HOME=$CACHE node_modules/.bin/deno jupyter --install --force >/dev/null 2>"$CACHE/install.log" || {
  cat "$CACHE/install.log" >&2
  exit 2
}
export JUPYTER_PATH=$CACHE/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}
export DENO_DIR=${DENO_DIR:-$ROOT/node_modules/.cache/deno}
export DENO_NO_UPDATE_CHECK=1
export NO_COLOR=1
export R1LAB_NOTEBOOK_SMALL=${R1LAB_NOTEBOOK_SMALL:-1}

if [ $# -gt 0 ]; then NOTEBOOKS=("$@"); else NOTEBOOKS=(notebooks/*.ipynb); fi
KEEP=()
if [ "${R1LAB_NOTEBOOK_WRITE:-0}" = 1 ]; then KEEP+=(--write-back); fi
if [ -n "${R1LAB_NOTEBOOK_OUT:-}" ]; then
  OUT=$R1LAB_NOTEBOOK_OUT
  KEEP+=(--keep)
else
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/r1lab-notebooks.XXXXXX")
  trap 'rm -rf "$OUT"' EXIT
fi
echo "test:notebooks: $("$PY" --version 2>&1), $(node_modules/.bin/deno --version | head -1), R1LAB_NOTEBOOK_SMALL=$R1LAB_NOTEBOOK_SMALL"
"$PY" scripts/test-notebooks.py --out "$OUT" --kernel deno ${KEEP[@]+"${KEEP[@]}"} \
  --cell-timeout "${R1LAB_NOTEBOOK_CELL_TIMEOUT:-300}" "${NOTEBOOKS[@]}"
