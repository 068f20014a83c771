#!/usr/bin/env bash
# Issue #4's experiment: OneRestore with a static (per-class) vs a dynamic (per-image) scene
# descriptor, same data, steps, seed and width; scored on evaluation composites never trained on.
# Run from the repository root with ../shared/data present. Wall time on 2 CPU cores: ~30 min.
set -euo pipefail
train=folder:../shared/data/train/clean/bsds500-train   # 200 BSDS500 train photos x 20 categories (seed 0)
eval=folder:../shared/data/eval/clean/bsds500-test      # 200 BSDS500 test photos x 11 CDD-11 categories (seed 1234)
categories=$(python -c "from stage1_embed.labels import PROMPTER_CATEGORIES as c; print(','.join(c))")

restore-embed pairs --split "$train" --seed 0 --categories "$categories"
restore-embed build --split "$train" --encoder local --batch-size 16
restore-embed pairs --split "$eval" --seed 1234
restore-embed build --split "$eval" --encoder local --batch-size 16

common=(--split "$train" --width 16 --steps 2500 --batch-size 4 --crop 96 --lr 5e-4 --checkpoint-every 250 --seed 0 --threads 1)
restore-train run "${common[@]}" --descriptor static --out runs/ab-static &
restore-train run "${common[@]}" --descriptor dynamic --out runs/ab-dynamic &
wait

restore-eval "$eval" --checkpoint runs/ab-static --checkpoint runs/ab-dynamic --limit 40 \
    --report docs/results/static_vs_dynamic.csv --grid docs/results/static_vs_dynamic.png
