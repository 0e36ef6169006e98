#!/usr/bin/env bash
# Add to .gpu/wheels what the conformance step needs beyond /work/shared/gpu/prepare.sh: pytest and its
# dependencies (pure-Python wheels; packaging is already on the CUDA machine with transformers).
# Usage, from the repository root, after prepare.sh: bench/gpu/extra_wheels.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
mkdir -p .gpu/wheels
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 -d .gpu/wheels \
  pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 pygments==2.21.0
du -sh .gpu/wheels
