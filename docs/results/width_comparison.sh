#!/usr/bin/env bash
# Width 16 vs width 32 (OneRestore's) on one equal CPU budget (issue #12): both from random weights,
# the same data, loss and batch, each trained for BUDGET_SECONDS of wall time on the 2 cores; the
# step count of each comes from a 30-step probe. Scored on validation only (10 bsds500-val photos x 19 degraded categories + clear).
set -euo pipefail
D=../shared/data/train/clean
train="folder:$D/bsds500-train,$D/urban100,$D/sunhays80,$D/dpst,$D/imagenet,$D/t91,$D/div2k"
val="folder:$D/bsds500-val"
categories=$(python -c "from stage1_embed.labels import PROMPTER_CATEGORIES as c; print(','.join(c))")
budget=${BUDGET_SECONDS:-480}
common=(--split "$train" --batch-size 4 --crop 96 --lr 5e-4 --clear-fraction 0.25 --threads 2)

for width in 16 32; do
    restore-train run "${common[@]}" --width $width --steps 30 --checkpoint-every 30 --out runs/width$width-probe
    seconds=$(python -c "import csv, statistics; rows = list(csv.DictReader(open('runs/width$width-probe/log.csv')))[10:]; \
print(statistics.median(float(r['seconds']) for r in rows))")
    steps=$(python -c "print(int($budget / $seconds))")
    echo "width $width: $seconds s per step -> $steps steps in $budget s"
    restore-train run "${common[@]}" --width $width --steps "$steps" --checkpoint-every "$steps" --out runs/width$width
done
restore-eval "$val" --seed 1 --categories "$categories" --checkpoint w16=runs/width16 --checkpoint w32=runs/width32 \
    --limit 10 --report docs/results/width_val.csv
