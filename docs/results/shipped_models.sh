#!/usr/bin/env bash
# How the shipped restorer (and its static twin, for the comparison) was trained and scored: MODEL_CARD.md.
# Run from the repository root with ../shared/data present; ~2 h on 2 CPU cores (both arms side by side,
# one thread each). Each leg is a `restore-train run` that can be stopped and continued with --resume,
# so the run can span sessions. Training reads only ../shared/data/train; ../shared/data/eval only scores.
set -euo pipefail
train=folder:../shared/data/train/clean/bsds500-train   # 200 photos x 20 categories (seed 0)
eval=folder:../shared/data/eval/clean/bsds500-test      # 200 photos x 11 CDD-11 categories (seed 1234)
categories=$(python -c "from stage1_embed.labels import PROMPTER_CATEGORIES as c; print(','.join(c))")

restore-embed pairs --split "$train" --seed 0 --categories "$categories"
restore-embed build --split "$train" --encoder local --batch-size 16
restore-embed pairs --split "$eval" --seed 1234
restore-embed build --split "$eval" --encoder local --batch-size 16

common=(--split "$train" --batch-size 4 --crop 96 --checkpoint-every 500 --threads 1)
for arm in static dynamic; do
    (
        restore-train run "${common[@]}" --descriptor "$arm" --width 16 --steps 2500 --lr 5e-4 --seed 0 --out "runs/ab-$arm"
        restore-train run "${common[@]}" --descriptor "$arm" --steps 6000 --lr 3e-4 --seed 1 --init-from "runs/ab-$arm" --out "runs/long-$arm"
        restore-train run "${common[@]}" --descriptor "$arm" --steps 8000 --lr 2e-4 --seed 2 --init-from "runs/long-$arm" --out "runs/final-$arm"
    ) &
done
wait
restore-train export runs/final-dynamic -o stage2_restore/weights/restorer

restore-eval "$eval" --checkpoint static=runs/final-static --checkpoint dynamic=runs/final-dynamic --limit 40 \
    --report docs/results/shipped_eval.csv --grid docs/results/shipped_eval.png
for pairs in lol_eval15 polyu_real_noise rain100h_jordere_subset outdoor_rain_test1 sots_outdoor_airnet; do
    restore-embed build --split "paired:../shared/data/eval/paired/$pairs" --encoder local
    restore-eval "paired:../shared/data/eval/paired/$pairs" --checkpoint static=runs/final-static \
        --checkpoint dynamic=runs/final-dynamic --report "docs/results/real_$pairs.csv"
done
