#!/usr/bin/env bash
# Issue 13 on the CUDA machine: one step per command, sent back to back (files in /tmp survive only while the
# machine stays warm). See bench/gpu/README.md for the order and for what each command carries.
#   bench/gpu/run.sh part N        copy model part .gpu/model/g.0N (and the sha256) to /tmp/w
#   bench/gpu/run.sh setup         install .gpu/wheels into /tmp/site, join + check the GGUF, convert it (float32)
#   bench/gpu/run.sh figures [M]   torch_figures.py for modes M (default: all four) -> $OUT/torch_figures-M.json
#   bench/gpu/run.sh conformance   the backend conformance suite and the torch tests, on CUDA -> $OUT/conformance.txt
#   bench/gpu/run.sh bench [ARGS]  smallcoder-lsp bench --backends torch (ARGS: e.g. --quick) -> $OUT/bench/
set -euo pipefail
W=/tmp/w
SITE=/tmp/site
OUT=${OUT:-/tmp/out}
export PYTHONPATH="$SITE:$PWD"
export HF_HUB_OFFLINE=1
step=${1:?usage: run.sh part N | setup | figures [MODES] | conformance | bench [ARGS]}
shift

case "$step" in
part)
  mkdir -p "$W"
  cp ".gpu/model/g.0$1" "$W/"
  cp .gpu/model/sha256 "$W/sha256"
  ls -la "$W"
  ;;
setup)
  python3 -m pip install -q --no-index --no-deps --target "$SITE" .gpu/wheels/*.whl
  cat "$W"/g.0* > "$W/g.gguf"
  echo "$(cat "$W/sha256")  $W/g.gguf" | sha256sum -c -
  python3 -m smallcoder_lsp convert "$W/g.gguf" --out "$W/hf"
  python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__, torch.cuda.get_device_name())"
  ;;
figures)
  modes=${1:-transformers,eager,graphs,compiled}
  python3 bench/gpu/torch_figures.py --model "$W/hf" --modes "$modes" --out "$OUT/torch_figures-${modes//,/-}.json"
  ;;
conformance)
  SMALLCODER_TEST_HF_MODEL="$W/hf" python3 -m pytest -q -rs -p no:cacheprovider -s \
    tests/backends/test_conformance.py tests/backends/test_torch_paths.py tests/unit/test_torch_*.py \
    2>&1 | tee "$OUT/conformance.txt"
  ;;
bench)
  python3 -m smallcoder_lsp bench --backends torch --model "$W/hf" --no-plots --out "$OUT/bench" "$@"
  ;;
*)
  echo "unknown step: $step" >&2
  exit 2
  ;;
esac
