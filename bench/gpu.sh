#!/usr/bin/env bash
# GPU figures in one command (bench/gpu.py): float16 encoder at batch 64-256, decode and end-to-end
# fingerprinting with ffmpeg's decoders and NVDEC, torch top-k over 1M to 40M vectors.
#   bash bench/gpu.sh [CATALOGUE]   (PYTHON=... to pick the interpreter; default: .venv, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
if ! "$PY" -c "import fp.fingerprint.extract, torch" 2>/dev/null; then
    echo "error: $PY cannot import fp and its dependencies; run 'make setup' or install them (pip install -e .)" >&2
    exit 2
fi
command -v ffmpeg >/dev/null || { echo "error: no ffmpeg on PATH" >&2; exit 2; }
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
PYTHONUNBUFFERED=1 exec "$PY" -m bench.gpu "$@"
