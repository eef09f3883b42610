#!/usr/bin/env bash
# The GPU check of the custom convolution, one command (`make device-check`), sized to finish
# in under 8 minutes on one GPU:
#   1. the CUDA tests (pytest -m cuda: parity, no host syncs inside the op);
#   2. `scenelab bench conv --device cuda`, float32 NCHW and bf16 autocast + channels_last;
#   3. a short trainer throughput run (built-in digits upscaled to 128x128, batch 64, 2 epochs,
#      images/s of the second epoch) of SimpleNet and ResNet-18, native vs custom convolution,
#      in bf16 + channels_last and in fp16 (the trainer's GradScaler).
# It ends by printing one table, also written to $DEVICE_CHECK_OUT/device_check.md.
#
# DEVICE_CHECK_DRY_RUN=1 prints every command instead of running it (no GPU needed).
# PYTHON overrides the interpreter; by default .venv is used, created like the Makefile does.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT_DIR="${DEVICE_CHECK_OUT:-${OUT:-runs/device-check}}"
DRY_RUN="${DEVICE_CHECK_DRY_RUN:-0}"

if [[ -n "${PYTHON:-}" ]]; then
    PY="$PYTHON"
elif [[ "$DRY_RUN" == 1 ]]; then
    PY=.venv/bin/python
else
    make --no-print-directory .venv/.installed-dev
    PY=.venv/bin/python
fi

run() {
    # Print the command; run it unless this is a dry run.
    printf '+ %s\n' "$*" >&2
    if [[ "$DRY_RUN" != 1 ]]; then
        "$@"
    fi
}

mkdir -p "$OUT_DIR"
TABLE="$OUT_DIR/device_check.md"

if [[ "$DRY_RUN" != 1 ]]; then
    "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else
        "device_check: no CUDA GPU visible to torch")'
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi

# 1. CUDA tests
tests_status=passed
run timeout 150 "$PY" -m pytest -m cuda -q -p no:cacheprovider tests/ops tests/nn \
    || tests_status=FAILED

# 2. bench conv, float32 and bf16 + channels_last (the training step row is the summary)
run timeout 90 "$PY" -m scenelab bench conv --device cuda --repeats 10 \
    --json "$OUT_DIR/bench-fp32.json"
run timeout 90 "$PY" -m scenelab bench conv --device cuda --dtype bfloat16 --channels-last \
    --repeats 10 --json "$OUT_DIR/bench-bf16-cl.json"

# 3. trainer throughput: 2 epochs of digits at 128x128, batch 64, per model/precision/conv
for model in simplenet resnet18; do
    for precision in bf16-cl fp16; do
        if [[ "$precision" == bf16-cl ]]; then
            amp_flags=(--amp bf16 --channels-last)
        else
            amp_flags=(--amp fp16 --no-channels-last)
        fi
        for conv in native custom; do
            run timeout 60 "$PY" -m scenelab train --data digits --model "$model" \
                --conv "$conv" --image-size 128 --batch-size 64 --epochs 2 --workers 2 \
                --device cuda "${amp_flags[@]}" --out "$OUT_DIR/train-$model-$precision-$conv"
        done
    done
done

if [[ "$DRY_RUN" == 1 ]]; then
    exit 0
fi

"$PY" - "$OUT_DIR" "$tests_status" >"$TABLE" <<'EOF'
import csv, json, sys
from pathlib import Path

out, tests = Path(sys.argv[1]), sys.argv[2]
import torch

print(f"device check on {torch.cuda.get_device_name()}, torch {torch.__version__}; "
      f"pytest -m cuda: {tests}\n")
print("| measurement | native | custom | custom / native |")
print("|---|---:|---:|---:|")
for name, label in (("bench-fp32", "float32"), ("bench-bf16-cl", "bf16 + channels_last")):
    for row in json.loads((out / f"{name}.json").read_text())["rows"]:
        total = {i: row["forward_ms"][i] + row["backward_ms"][i] for i in ("native", "custom")}
        print(f"| {label}: {row['name']} (fwd+bwd ms) | {total['native']:.2f} | "
              f"{total['custom']:.2f} | {total['custom'] / total['native']:.2f} |")
        if row["name"] == "SimpleNet training step":
            peak = row["peak_mb"]
            print(f"| {label}: training step peak MB | {peak['native']:.0f} | "
                  f"{peak['custom']:.0f} | {peak['custom'] / peak['native']:.2f} |")
for model in ("simplenet", "resnet18"):
    for precision in ("bf16-cl", "fp16"):
        rate = {}
        for conv in ("native", "custom"):
            rows = list(csv.DictReader(open(out / f"train-{model}-{precision}-{conv}/metrics.csv")))
            rate[conv] = float(rows[-1]["images_per_s"])
        print(f"| trainer {model} {precision} (images/s, epoch 2) | {rate['native']:.0f} | "
              f"{rate['custom']:.0f} | {rate['native'] / rate['custom']:.2f} (time) |")
EOF
cat "$TABLE"
[[ "$tests_status" == passed ]]
