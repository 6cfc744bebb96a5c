#!/usr/bin/env bash
# The GPU acceptance check of issue 13 (CUDA event timing, bf16/fp16 roofline, SRResNet x4 throughput at
# 256x256 and 512x512 batch 16, torch.compile, a 300-step SRResNet training run that must lower the loss).
# Runs in under 5 minutes on one GPU. Usage, from the repository root:
#     tests/benchmarks/gpu_check.sh [OUT_DIR]        (default: $OUT, else ./gpu_check_out)
# Writes OUT_DIR/gpu_check.md (the README table), OUT_DIR/gpu_check.json and OUT_DIR/gpu_check.log.
# PYTHON selects the interpreter (default: python3, the one holding PyTorch on the GPU machines).
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-${OUT:-gpu_check_out}}"
mkdir -p "$out"
py="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee "$out/gpu_check.log"
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout 290 "$py" tests/benchmarks/gpu_check.py --out "$out" "${@:2}" \
    2>&1 | tee -a "$out/gpu_check.log"
rc=${PIPESTATUS[0]}
[ "$rc" = 124 ] && echo "gpu_check: timed out after 290 s" | tee -a "$out/gpu_check.log"
exit "$rc"
