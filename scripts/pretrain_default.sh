#!/usr/bin/env bash
# Reproduces the shipped default base model (codecustom/models/default) on one CUDA GPU:
#   scripts/pretrain_default.sh OUT_DIR [extra codecustom pretrain args, e.g. --exclude-repo DIR]
# Corpus: this Python's standard library (with its test/ package) and its site-packages, permissive
# licenses only (the card lists every source and license). SIZE=base gives the ~100M evaluation base.
set -euo pipefail
out=${1:?usage: scripts/pretrain_default.sh OUT_DIR [extra pretrain args]}
shift
size=${SIZE:-tiny}
minutes=${MINUTES:-5}
exec python3 -m codecustom pretrain --corpus stdlib site-packages --size "$size" --minutes "$minutes" \
    --max-corpus-mb "${MAX_CORPUS_MB:-300}" --device cuda --seed 0 --out "$out" --overwrite "$@"
