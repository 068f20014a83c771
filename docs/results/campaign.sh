#!/usr/bin/env bash
# The generalisation campaign (issues #10-#12): the data engine's training split, the prompter, one
# restorer leg from the shipped weights, and their scores. Run from the repository root with
# ../shared/data present. Training reads only ../shared/data/train; ../shared/data/eval only scores.
set -euo pipefail
D=../shared/data/train/clean
E=../shared/data/eval
train="folder:$D/bsds500-train,$D/urban100,$D/sunhays80,$D/dpst,$D/imagenet,$D/t91,$D/div2k"  # 733 photos
val="folder:$D/bsds500-val"          # in-distribution validation (training families, seed 1)
heldout="heldout:$D/bsds500-val"     # leave-one-family-out validation (held-out families, seed 3)
categories=$(python -c "from stage1_embed.labels import PROMPTER_CATEGORIES as c; print(','.join(c))")

validate_restorer() {  # run NAME (runs/NAME) on the three validation sets every leg since leg 9 is judged on
    restore-eval "$val" --seed 1 --categories "$categories" --checkpoint "$1=runs/$1" --limit 20 --report "docs/results/restorer_val_$1.csv"
    restore-eval "$heldout" --seed 3 --categories "$categories" --checkpoint "$1=runs/$1" --limit 20 \
        --report "docs/results/restorer_heldout_val_$1.csv"
    restore-eval "closeup:$D/bsds500-val" --seed 1 --categories clear,noise,blur --checkpoint "$1=runs/$1" --limit 20 \
        --report "docs/results/restorer_closeup_val_$1.csv"
}
true_prompts() {  # run NAME with the prompts worded from the true labels: what the prompter's mistakes cost it
    restore-eval "$val" --seed 1 --categories "$categories" --checkpoint "$1=runs/$1" --true-prompts --limit 20 \
        --report "docs/results/restorer_val_${1}_true.csv"
    restore-eval "$heldout" --seed 3 --categories "$categories" --checkpoint "$1=runs/$1" --true-prompts --limit 20 \
        --report "docs/results/restorer_heldout_val_${1}_true.csv"
}
# `--init-from stage2_restore/weights/restorer` below means the restorer shipped at that point, not today's:
# leg 4 starts from a04e29f's, leg 5 from 32680d5's (leg 4), legs 6 and 8 from de27fae's (leg 5). Restore the one a
# leg needs with `git checkout COMMIT -- stage2_restore/weights/restorer` (and back with `git checkout HEAD --`).

# Data engine: 2 variants x 10 of the 19 degraded categories per photo + clear (15,393 pairs, 4.5 GB).
restore-embed pairs --split "$train" --variants 2 --per-image 10 --categories "$categories"
restore-embed pairs --split "$val" --seed 1 --categories "$categories"
restore-embed pairs --split "$heldout" --seed 3 --categories "$categories"
restore-embed families --split "folder:$D/bsds500-train" --photos 12 --report docs/results/families_bsds12.csv
restore-embed gallery -o docs/degradations.png

# Prompter 1 (shipped): 4 crops, from the first release's trunk, selected on both validation sets, calibrated on $val.
# It predates hard examples (hence the two zeros), and shared/weights/assessor then held the first release's
# assessor: restore it first with `git checkout 2477177 -- shared/weights/assessor` (and back with `git checkout HEAD --`).
restore-embed train-prompter --train "$train" --variants 2 --per-image 10 --val "$val" --heldout-val "$heldout" \
    --epochs 6 --steps-per-epoch 200 --crops 4 --init-from shared/weights/assessor --lr 2e-3 \
    --hard-clear-weight 0 --close-up-fraction 0 --out runs/prompter
for families in classic train; do
    restore-embed eval-prompter --split "folder:$E/clean/bsds500-test" --seed 1234 --families $families --prompter runs/prompter \
        --cache-dir "cache/eval-$families" --report "docs/results/prompter_eval_$families.csv" --confusion "docs/results/prompter_confusion_$families.png"
done
restore-embed eval-prompter --split "$heldout" --seed 3 --prompter runs/prompter --report docs/results/prompter_heldout_val.csv \
    --confusion docs/results/prompter_confusion_heldout_val.png
restore-embed assess "$E/clean/kodak24" "$E/clean/mcmaster" "$E/clean/bsds500-test" --prompter runs/prompter --report docs/results/prompter_clean.csv
restore-embed assess "$E/paired/polyu_real_noise/input" --prompter runs/prompter --report docs/results/prompter_polyu.csv
restore-embed assess "$E/real_noref/rain_heavyrain_web" "$E/real_noref/snow_real" "$E/real_noref/haze_real" "$E/real_noref/lowlight_lime" \
    --prompter runs/prompter --report docs/results/prompter_real_noref.csv

# Restorer leg: the training split embedded by the new prompter (its real mistakes included), from the shipped weights.
restore-embed build --split "$train" --encoder local --prompter runs/prompter
restore-train run --split "$train" --init-from stage2_restore/weights/restorer --width 16 --steps 10000 --batch-size 4 --crop 96 \
    --lr 2e-4 --clear-fraction 0.25 --checkpoint-every 500 --threads 2 --out runs/leg4

# Validation decides (first release vs leg 4), on bsds500-val only.
restore-eval "$val" --seed 1 --categories "$categories" --checkpoint shipped=stage2_restore/weights/restorer \
    --checkpoint leg4=runs/leg4 --limit 20 --report docs/results/restorer_val.csv
restore-eval "$heldout" --seed 3 --categories "$categories" --checkpoint shipped=stage2_restore/weights/restorer \
    --checkpoint leg4=runs/leg4 --limit 20 --report docs/results/restorer_heldout_val.csv --grid docs/results/restorer_heldout_val.png

# Ship the pair: the restorer reads the prompter's vectors, so both are replaced together, and the
# restorer's binding names the packaged prompter.
restore-train export runs/leg4 -o stage2_restore/weights/restorer
cp runs/prompter/{model.safetensors,config.json,train_config.json,history.csv,history.png,reliability.png} shared/weights/assessor/
python -c "import json, pathlib; p = pathlib.Path('stage2_restore/weights/restorer/cache.json'); b = json.loads(p.read_text()); \
b['prompter_locator'] = 'shipped'; p.write_text(json.dumps(b, indent=2, sort_keys=True) + '\n')"

# Leg 5 (next session, same prompter and vectors): from the shipped leg 4, a warm restart of the cosine schedule.
restore-train run --split "$train" --init-from stage2_restore/weights/restorer --width 16 --steps 17000 --batch-size 4 --crop 96 \
    --lr 2e-4 --clear-fraction 0.25 --checkpoint-every 500 --threads 2 --out runs/leg5
for set in "$val 1 restorer_val_leg5" "$heldout 3 restorer_heldout_val_leg5"; do
    read -r split seed name <<< "$set"
    restore-eval "$split" --seed "$seed" --categories "$categories" --checkpoint leg5=runs/leg5 --true-prompts --limit 20 \
        --report "docs/results/$name.csv"
done
restore-train export runs/leg5 -o stage2_restore/weights/restorer   # only because it beat leg 4 on both validation sets

# How much an unsure prompter should restore (restore --sure), chosen on validation; then the width question.
python docs/results/caution_sweep.py --checkpoint stage2_restore/weights/restorer --limit 10 --report docs/results/caution_sweep.csv
BUDGET_SECONDS=360 bash docs/results/width_comparison.sh

# Evaluation, once, on sets never trained or tuned on.
restore-eval "folder:$E/clean/bsds500-test" --seed 1234 --families classic --cache-dir cache/eval11-classic --limit 40 \
    --checkpoint new=stage2_restore/weights/restorer --report docs/results/campaign_composites.csv --grid docs/results/campaign_composites.png
for p in rain100h_jordere_subset outdoor_rain_test1 sots_outdoor_airnet lol_eval15 polyu_real_noise; do
    restore-eval "paired:$E/paired/$p" --checkpoint new=stage2_restore/weights/restorer --report "docs/results/campaign_real_$p.csv"
done
python docs/results/clean_through_restore.py "$E/clean/kodak24" "$E/clean/mcmaster" --report docs/results/clean_through_restore.csv
python docs/results/clean_through_restore.py --pairs "$E/paired/polyu_real_noise" --report docs/results/polyu_through_restore.csv
python docs/results/real_noref_grid.py "$E/real_noref/rain_heavyrain_web" "$E/real_noref/snow_real" "$E/real_noref/haze_real" \
    "$E/real_noref/lowlight_lime" --per-folder 3 -o docs/results/real_noref.png

# Prompter 2 (third session): longer, from the shipped prompter, with hard examples (clear photos re-weighted among
# themselves by the net's own mistakes every epoch; close-ups, clear or with low-ISO camera noise, JPEG'd alike);
# selected on both validation sets.
restore-embed train-prompter --train "$train" --variants 2 --per-image 10 --val "$val" --heldout-val "$heldout" \
    --epochs 12 --steps-per-epoch 200 --crops 4 --init-from shared/weights/assessor --lr 1e-3 --out runs/prompter2
# Prompter 2 on the eval sets, scored after it was chosen on validation.
restore-embed eval-prompter --split "folder:$E/clean/bsds500-test" --seed 1234 --families classic --prompter runs/prompter2 \
    --cache-dir cache/eval-classic --report docs/results/prompter2_eval_classic.csv --confusion docs/results/prompter2_confusion_classic.png
restore-embed assess "$E/clean/kodak24" "$E/clean/mcmaster" "$E/clean/bsds500-test" --prompter runs/prompter2 --report docs/results/prompter2_clean.csv
restore-embed assess "$E/paired/polyu_real_noise/input" --prompter runs/prompter2 --report docs/results/prompter2_polyu.csv
restore-embed assess "$E/real_noref/rain_heavyrain_web" "$E/real_noref/snow_real" "$E/real_noref/haze_real" "$E/real_noref/lowlight_lime" \
    --prompter runs/prompter2 --report docs/results/prompter2_real_noref.csv

# Restorer leg 6: from leg 5, on the training split and its close-ups (clear, noise, blur), both embedded by prompter 2
# (its features are half of every vector, so the restorer must learn them). The leg was started with --steps 6500 and,
# for time, resumed at its step-1,000 checkpoint with --steps 5000 (the cosine then ends at 5,000).
closeup="closeup:$D/bsds500-train,$D/urban100,$D/sunhays80,$D/dpst,$D/imagenet,$D/t91,$D/div2k"
restore-embed pairs --split "$closeup" --categories clear,noise,blur
restore-embed pairs --split "closeup:$D/bsds500-val" --seed 1 --categories clear,noise,blur   # close-up validation
for split in "$train" "$closeup"; do restore-embed build --split "$split" --encoder local --prompter runs/prompter2; done
restore-train run --split "$train" --cache local-987db9991c3c --extra-split "$closeup" --init-from stage2_restore/weights/restorer \
    --width 16 --steps 5000 --batch-size 4 --crop 96 --lr 2e-4 --clear-fraction 0.25 --checkpoint-every 500 --threads 2 --out runs/leg6
for set in "$val 1 restorer_val_leg6" "$heldout 3 restorer_heldout_val_leg6"; do
    read -r split seed name <<< "$set"
    restore-eval "$split" --seed "$seed" --categories "$categories" --checkpoint leg6=runs/leg6 --limit 20 --report "docs/results/$name.csv"
done
restore-eval "closeup:$D/bsds500-val" --seed 1 --categories clear,noise,blur --checkpoint leg5=stage2_restore/weights/restorer \
    --checkpoint leg6=runs/leg6 --limit 20 --report docs/results/restorer_closeup_val.csv --grid docs/results/restorer_closeup_val.png
restore-eval "paired:$E/paired/polyu_real_noise" --checkpoint leg6=runs/leg6 --report docs/results/polyu_leg6_not_shipped.csv   # after the decision

# Restorer leg 7 (fourth session): leg 6 continued on the same data, fresh cosine over 20,000 steps; same validation.
restore-train run --split "$train" --cache local-987db9991c3c --extra-split "$closeup" --init-from runs/leg6 \
    --width 16 --steps 20000 --batch-size 4 --crop 96 --lr 2e-4 --clear-fraction 0.25 --checkpoint-every 500 --threads 2 --out runs/leg7
restore-eval "$val" --seed 1 --categories "$categories" --checkpoint leg7=runs/leg7 --limit 20 --report docs/results/restorer_val_leg7.csv
restore-eval "$heldout" --seed 3 --categories "$categories" --checkpoint leg7=runs/leg7 --limit 20 --report docs/results/restorer_heldout_val_leg7.csv
restore-eval "closeup:$D/bsds500-val" --seed 1 --categories clear,noise,blur --checkpoint leg5=stage2_restore/weights/restorer \
    --checkpoint leg7=runs/leg7 --limit 20 --report docs/results/restorer_closeup_val_leg7.csv --grid docs/results/restorer_closeup_val_leg7.png
# After the decision (not used to decide): the prompter's cost on held-out, and PolyU.
restore-eval "$heldout" --seed 3 --categories "$categories" --checkpoint leg7=runs/leg7 --true-prompts --limit 20 \
    --report docs/results/restorer_heldout_val_leg7_true.csv
restore-eval "paired:$E/paired/polyu_real_noise" --checkpoint leg7=runs/leg7 --report docs/results/polyu_leg7_not_shipped.csv
# Both prompters on close-ups (validation; only the three categories the close-up pairs were built with).
for p in "shared/weights/assessor prompter1" "runs/prompter2 prompter2"; do
    read -r dir name <<< "$p"
    restore-embed eval-prompter --split "closeup:$D/bsds500-val" --seed 1 --categories clear,noise,blur --prompter "$dir" \
        --report "docs/results/${name}_closeup_val.csv"
done

# Restorer leg 8 (fifth session): leg 5 continued with prompter 1's vectors (its own), close-ups added.
restore-embed build --split "$closeup" --encoder local --prompter shared/weights/assessor
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --init-from stage2_restore/weights/restorer \
    --width 16 --steps 20000 --batch-size 4 --crop 96 --lr 2e-4 --clear-fraction 0.25 --checkpoint-every 500 --threads 2 --out runs/leg8
restore-eval "$val" --seed 1 --categories "$categories" --checkpoint leg8=runs/leg8 --limit 20 --report docs/results/restorer_val_leg8.csv
restore-eval "$heldout" --seed 3 --categories "$categories" --checkpoint leg8=runs/leg8 --limit 20 --report docs/results/restorer_heldout_val_leg8.csv
restore-eval "closeup:$D/bsds500-val" --seed 1 --categories clear,noise,blur --checkpoint leg5=stage2_restore/weights/restorer \
    --checkpoint leg8=runs/leg8 --limit 20 --report docs/results/restorer_closeup_val_leg8.csv --grid docs/results/restorer_closeup_val_leg8.png
# Leg 8 passed every pre-set criterion: ship it (prompter 1 stays), then rerun the eval block of the shipped pair
# above (composites, the five paired sets, clean_through_restore.py twice, real_noref_grid.py) and the app screenshot.
restore-train export runs/leg8 -o stage2_restore/weights/restorer   # then set "prompter_locator": "shipped" in its cache.json
RESTORE_SCREENSHOTS=docs python -m pytest -q tests/stage2_restore/test_app.py
# After the decision, on validation: the caution default re-checked for leg 8, and the prompter's cost.
python docs/results/caution_sweep.py --checkpoint stage2_restore/weights/restorer --limit 10 --report docs/results/caution_sweep_leg8.csv
true_prompts leg8

# Restorer leg 9 (sixth session): leg 8 plus rain and snow as a camera records them (`rain: fine`, `snow: bokeh`,
# the `weather:` split), all on prompter 1's vectors. Started with --steps 20000 and, for time, resumed at its
# step-1,500 checkpoint with --steps 16000 (the cosine then ends at 16,000). Leg 9 starts from e7a5efe's restorer (leg 8).
weather="weather:$D/bsds500-train,$D/urban100,$D/sunhays80,$D/dpst,$D/imagenet,$D/t91,$D/div2k"
wcategories=clear,rain,snow,low_rain,low_snow,haze_rain,haze_snow,low_haze_rain,low_haze_snow,rain_noise,snow_blur,low_haze_rain_noise
restore-embed pairs --split "$weather" --categories "${wcategories#clear,}" --per-image 4
restore-embed pairs --split "weather:$D/bsds500-val" --seed 1 --categories "$wcategories"   # weather validation
restore-embed build --split "$weather" --encoder local --prompter shared/weights/assessor
restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint leg8=stage2_restore/weights/restorer \
    --limit 20 --report docs/results/restorer_weather_val_leg8.csv   # leg 8's baseline, before training
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --extra-split "$weather" \
    --init-from stage2_restore/weights/restorer --width 16 --steps 16000 --batch-size 4 --crop 96 --lr 2e-4 --clear-fraction 0.25 \
    --checkpoint-every 500 --threads 2 --out runs/leg9
restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint leg8=stage2_restore/weights/restorer --checkpoint leg9=runs/leg9 --limit 20 \
    --report docs/results/restorer_weather_val_leg9.csv --grid docs/results/restorer_weather_val_leg9.png
validate_restorer leg9
# Leg 9 missed its first criterion (+0.28 dB on the weather validation, +0.5 required): not shipped. The prompter on the
# new families, and the survey table with them:
restore-embed eval-prompter --split "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --prompter shared/weights/assessor \
    --report docs/results/prompter1_weather_val.csv
restore-embed families --split "folder:$D/bsds500-train" --photos 12 --report docs/results/families_bsds12.csv
restore-embed gallery -o docs/degradations.png   # then quantised to 256 colours (PIL), like the grids, to stay under 1 MB
restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint leg9=runs/leg9 --true-prompts --limit 20 \
    --report docs/results/restorer_weather_val_leg9_true.csv   # after the decision: is the prompter or the restorer the limit?

# Restorer leg 10 (seventh session): leg 9 with the weather split at a third of every batch (the close-ups keep their
# natural share), on prompter 1's vectors. Rule in MODEL_CARD.md, set before training.
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --extra-split "$weather" \
    --extra-fraction 0 --extra-fraction 0.33 --init-from runs/leg9 --width 16 --steps 14000 --batch-size 4 --crop 96 --lr 2e-4 \
    --clear-fraction 0.25 --checkpoint-every 500 --threads 2 --out runs/leg10
restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint leg8=stage2_restore/weights/restorer --checkpoint leg10=runs/leg10 --limit 20 \
    --report docs/results/restorer_weather_val_leg10.csv --grid docs/results/restorer_weather_val_leg10.png
validate_restorer leg10
# Leg 10 passed every pre-set criterion: shipped with prompter 1 (export writes "prompter_locator": "shipped" itself),
# then the eval block of the shipped pair: composites, the five paired sets, clean_through_restore.py twice,
# real_noref_grid.py (the block under "Evaluation, once" above), and the app screenshot.
restore-train export runs/leg10 -o stage2_restore/weights/restorer
RESTORE_SCREENSHOTS=docs python -m pytest -q tests/stage2_restore/test_app.py
# Restorer leg 11 (eighth session): leg 10 with a fifth of every batch misdirected (clear pairs guided by a degraded
# version's vector: a wrong prompt must not change a clean photo). Rule in MODEL_CARD.md, set before training.
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --extra-split "$weather" \
    --extra-fraction 0 --extra-fraction 0.2 --clear-fraction 0.2 --misdirected-fraction 0.2 --init-from runs/leg10 \
    --width 16 --steps 10500 --batch-size 5 --crop 96 --lr 2e-4 --checkpoint-every 500 --threads 2 --out runs/leg11
wrong=(--prompt "low light" --prompt haze --prompt blur --prompt noise --prompt "low light and haze")
for leg in leg10 leg11; do
    python docs/results/clean_through_restore.py "$D/bsds500-val" --limit 20 "${wrong[@]}" --checkpoint runs/$leg \
        --report docs/results/wrong_prompts_val_$leg.csv
done
restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint leg10=runs/leg10 --checkpoint leg11=runs/leg11 --limit 20 \
    --report docs/results/restorer_weather_val_leg11.csv --grid docs/results/restorer_weather_val_leg11.png
validate_restorer leg11
# Leg 11 passed every pre-set criterion: shipped with prompter 1, then the eval block of the shipped pair (as for leg 10)
# and the app screenshot. After the decision, not part of the rule: strong wrong prompts.
restore-train export runs/leg11 -o stage2_restore/weights/restorer
RESTORE_SCREENSHOTS=docs python -m pytest -q tests/stage2_restore/test_app.py
strong=(--prompt "severe low light" --prompt "dense haze" --prompt "heavy noise" --prompt "strong blur")
for leg in leg10 leg11; do
    python docs/results/clean_through_restore.py "$D/bsds500-val" --limit 20 "${strong[@]}" --checkpoint runs/$leg \
        --report docs/results/strong_wrong_prompts_val_$leg.csv
done
true_prompts leg11
# Probe for leg 12 (eighth session, not a ship candidate: this session's weights were committed): leg 11 with a fifth of
# every batch from low-light pairs (--focus-label low), 4,000 steps, to see whether the lift comes back with the doubt kept.
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --extra-split "$weather" \
    --extra-fraction 0 --extra-fraction 0.2 --clear-fraction 0.2 --misdirected-fraction 0.2 --focus-label low --focus-fraction 0.2 \
    --init-from runs/leg11 --width 16 --steps 4000 --batch-size 5 --crop 96 --lr 1e-4 --checkpoint-every 500 --threads 2 --out runs/probe12
python docs/results/clean_through_restore.py "$D/bsds500-val" --limit 20 "${wrong[@]}" --checkpoint runs/probe12 \
    --report docs/results/wrong_prompts_val_probe12.csv
validate_restorer probe12
# Prompter 3 (seventh session): prompter 2's recipe plus the weather split. Rule in MODEL_CARD.md, set before training.
# Stopped at epoch 9 of 12 for time (no weights: train-prompter writes the best epoch at the end); rerun it whole.
restore-embed train-prompter --train "$train" --extra-train "$weather" --variants 2 --per-image 10 --val "$val" --heldout-val "$heldout" \
    --epochs 12 --steps-per-epoch 200 --crops 4 --init-from shared/weights/assessor --lr 1e-3 --out runs/prompter3
restore-embed eval-prompter --split "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --prompter runs/prompter3 \
    --report docs/results/prompter3_weather_val.csv
# Restorer leg 12 (ninth session): leg 11 plus the `underexposed:` split (low light as base-ISO underexposure with a
# phone's noise reduction: dark without grain) at a fifth of every batch. Rule in MODEL_CARD.md, set before training.
under="underexposed:$D/bsds500-train,$D/urban100,$D/sunhays80,$D/dpst,$D/imagenet,$D/t91,$D/div2k"
restore-embed pairs --split "$under" --categories low,low_haze,low_rain,low_snow,low_haze_rain,low_haze_snow,low_noise,low_haze_rain_noise \
    --per-image 4
restore-embed build --split "$under" --encoder local --prompter shared/weights/assessor
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --extra-split "$weather" --extra-split "$under" \
    --extra-fraction 0 --extra-fraction 0.1 --extra-fraction 0.2 --clear-fraction 0.2 --misdirected-fraction 0.2 --init-from runs/leg11 \
    --width 16 --steps 5000 --batch-size 10 --crop 96 --lr 1e-4 --checkpoint-every 500 --threads 2 --out runs/leg12
python docs/results/clean_through_restore.py "$D/bsds500-val" --limit 20 "${wrong[@]}" --checkpoint runs/leg12 \
    --report docs/results/wrong_prompts_val_leg12.csv
restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint leg12=runs/leg12 --limit 20 \
    --report docs/results/restorer_weather_val_leg12.csv --grid docs/results/restorer_weather_val_leg12.png
validate_restorer leg12
# Leg 12 missed its weather criterion by 0.02 dB: not shipped. A new candidate, its rule set after leg 12's numbers were
# seen (MODEL_CARD.md): the weight average 0.25 leg 11 + 0.75 leg 12, judged by leg 12's rule unchanged.
python docs/results/interpolate_restorers.py runs/leg11 runs/leg12 --alpha 0.75 -o runs/soup12
python docs/results/clean_through_restore.py "$D/bsds500-val" --limit 20 "${wrong[@]}" --checkpoint runs/soup12 \
    --report docs/results/wrong_prompts_val_soup12.csv
restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint soup12=runs/soup12 --limit 20 \
    --report docs/results/restorer_weather_val_soup12.csv
validate_restorer soup12
# 12a (runs/soup12) passed every criterion: shipped with prompter 1, then the eval block of the shipped pair (the block
# under "Evaluation, once" above), the app screenshot, and the gallery with the new family.
restore-train export runs/soup12 -o stage2_restore/weights/restorer
RESTORE_SCREENSHOTS=docs python -m pytest -q tests/stage2_restore/test_app.py
restore-embed gallery -o docs/degradations.png   # then quantised to 256 colours (PIL)
true_prompts soup12   # after the decision: what prompter 1's mistakes cost 12a
for leg in leg11=runs/leg11 12a=runs/soup12; do   # after the decision: the 20 dimmest validation photos told "low light" in words
    python docs/results/clean_through_restore.py "$D/bsds500-val" --darkest 20 --prompt "low light" --checkpoint "${leg#*=}" \
        --report "docs/results/dim_low_light_val_${leg%%=*}.csv"
done
python docs/results/misdirected_val.py "folder:$D/bsds500-val" --limit 20 --checkpoint leg11=runs/leg11 --checkpoint 12a=runs/soup12 \
    --report docs/results/misdirected_val.csv   # after the decision: clean photos guided by whole wrong vectors
python docs/results/misdirected_val.py "folder:$D/bsds500-val" --limit 20 --input noise --checkpoint leg11=runs/leg11 \
    --checkpoint 12a=runs/soup12 --report docs/results/misdirected_noise_val.csv   # grainy photos under wrong vectors
# Restorer leg 13 (tenth session): 12a with a fifth of every batch overcalled (degraded pairs guided by the vector of a
# worse version of the same photo, target their own clean photo). Rule in MODEL_CARD.md, set before training.
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --extra-split "$weather" --extra-split "$under" \
    --extra-fraction 0 --extra-fraction 0.1 --extra-fraction 0.2 --clear-fraction 0.2 --misdirected-fraction 0.1 \
    --overcalled-fraction 0.2 --init-from runs/soup12 \
    --width 16 --steps 5000 --batch-size 10 --crop 96 --lr 1e-4 --checkpoint-every 500 --threads 2 --out runs/leg13
# Leg 13 missed two criteria (MODEL_CARD.md); leg 14 continues it with more misdirected and overcalled rows, judged by
# leg 13's rule unchanged.
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --extra-split "$weather" --extra-split "$under" \
    --extra-fraction 0 --extra-fraction 0.1 --extra-fraction 0.1 --clear-fraction 0.2 --misdirected-fraction 0.2 \
    --overcalled-fraction 0.3 --init-from runs/leg13 \
    --width 16 --steps 3000 --batch-size 10 --crop 96 --lr 1e-4 --checkpoint-every 500 --threads 2 --out runs/leg14
for leg in leg13 leg14; do   # the same validation block for both legs, the two misdirected checks included
    python docs/results/clean_through_restore.py "$D/bsds500-val" --limit 20 "${wrong[@]}" --checkpoint "runs/$leg" \
        --report "docs/results/wrong_prompts_val_$leg.csv"
    restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint "$leg=runs/$leg" --limit 20 \
        --report "docs/results/restorer_weather_val_$leg.csv" --grid "docs/results/restorer_weather_val_$leg.png"
    validate_restorer "$leg"
    python docs/results/misdirected_val.py "folder:$D/bsds500-val" --limit 20 --input noise --checkpoint "$leg=runs/$leg" \
        --report "docs/results/misdirected_noise_val_$leg.csv"
    python docs/results/misdirected_val.py "folder:$D/bsds500-val" --limit 20 --checkpoint "$leg=runs/$leg" \
        --report "docs/results/misdirected_val_$leg.csv"
done
# Leg 14 passed every criterion of leg 13's rule: shipped with prompter 1, then the eval block of the shipped pair and the
# app screenshot.
restore-train export runs/leg14 -o stage2_restore/weights/restorer
RESTORE_SCREENSHOTS=docs python -m pytest -q tests/stage2_restore/test_app.py
true_prompts leg14   # after the decision: what prompter 1's mistakes cost leg 14
# Eleventh session. Rain100H-like rain alone (the `heavy` family) on 40 validation photos: is leg 14's Rain100H drop
# (5 photos) a loss of heavy-rain removal? 12a from the commit before leg 14 shipped.
mkdir -p runs/12a && for f in cache.json config.json model.safetensors; do
    git show "9f7d2c6^:stage2_restore/weights/restorer/$f" > "runs/12a/$f"
done
restore-eval "$val" --seed 1 --families heavy_rain --categories rain,haze_rain --cache-dir cache/val-heavy-rain --limit 40 \
    --checkpoint 12a=runs/12a --checkpoint leg14=stage2_restore/weights/restorer --report docs/results/restorer_heavy_rain_val_12a_leg14.csv
# How dark is "low light"? Our low-light families beside LOL's inputs and the PolyU photos called "low light" (inputs only).
python docs/results/low_light_brightness.py --photos "$D/bsds500-val" --limit 40 "$E/paired/lol_eval15/input" \
    "$E/paired/polyu_real_noise/input" --called docs/results/polyu_through_restore.csv "$E/paired/polyu_real_noise" "low light" \
    --report docs/results/low_light_brightness.csv
# Restorer leg 15: leg 14 on 128² crops (haze needs a wider view), the mixture unchanged. Rule in MODEL_CARD.md, set before
# training. Leg 15 starts from 9f7d2c6's restorer (leg 14).
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --extra-split "$weather" --extra-split "$under" \
    --extra-fraction 0 --extra-fraction 0.1 --extra-fraction 0.1 --clear-fraction 0.2 --misdirected-fraction 0.2 \
    --overcalled-fraction 0.3 --init-from stage2_restore/weights/restorer \
    --width 16 --steps 1200 --batch-size 10 --crop 128 --lr 1e-4 --checkpoint-every 250 --threads 2 --out runs/leg15
validate_leg() {  # every check leg 15's rule reads, for run NAME (runs/NAME)
    local leg=$1
    python docs/results/clean_through_restore.py "$D/bsds500-val" --limit 20 "${wrong[@]}" --checkpoint "runs/$leg" \
        --report "docs/results/wrong_prompts_val_$leg.csv"
    restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint "$leg=runs/$leg" --limit 20 \
        --report "docs/results/restorer_weather_val_$leg.csv" --grid "docs/results/restorer_weather_val_$leg.png"
    validate_restorer "$leg"
    restore-eval "$val" --seed 1 --families heavy_rain --categories rain,haze_rain --cache-dir cache/val-heavy-rain --limit 40 \
        --checkpoint "$leg=runs/$leg" --report "docs/results/restorer_heavy_rain_val_$leg.csv"
    python docs/results/misdirected_val.py "$val" --limit 20 --input noise --checkpoint "$leg=runs/$leg" \
        --report "docs/results/misdirected_noise_val_$leg.csv"
    python docs/results/misdirected_val.py "$val" --limit 20 --checkpoint "$leg=runs/$leg" \
        --report "docs/results/misdirected_val_$leg.csv"
}
validate_leg leg15
# Leg 15 failed two criteria (haze in-distribution +0.02, grainy photos under their own vector 31.92): not shipped,
# leg 14 stays, so no eval block. Measured in the twelfth session: 1,200 steps at 2.2 s a step on that session's machine.
# Restorer leg 16 (thirteenth session): leg 15 continued for 2,000 more steps, nothing else changed. Rule in MODEL_CARD.md,
# set before training (leg 15's rule, against leg 14).
restore-train run --split "$train" --cache local-6eb6bc7f87d7 --extra-split "$closeup" --extra-split "$weather" --extra-split "$under" \
    --extra-fraction 0 --extra-fraction 0.1 --extra-fraction 0.1 --clear-fraction 0.2 --misdirected-fraction 0.2 \
    --overcalled-fraction 0.3 --init-from runs/leg15/checkpoint \
    --width 16 --steps 2000 --batch-size 10 --crop 128 --lr 1e-4 --checkpoint-every 250 --threads 2 --out runs/leg16
# The `dark` set's family beside the other low-light families (inputs only, bsds500-val; the other rows are unchanged).
python docs/results/low_light_brightness.py --photos "$D/bsds500-val" --limit 40 "$E/paired/lol_eval15/input" \
    "$E/paired/polyu_real_noise/input" --called docs/results/polyu_through_restore.csv "$E/paired/polyu_real_noise" "low light" \
    --report docs/results/low_light_brightness.csv
restore-embed gallery -o docs/degradations.png   # with dark_lime; then quantised to 256 colours (PIL)
validate_leg leg16
# Leg 16 failed the point of its rule (the eight haze categories
# in-distribution +0.04 dB, +0.2 asked), every other criterion held: not shipped, leg 14 stays, so no eval block.
# The family table's dark_lime row: the survey rerun, and only its new row taken into docs/results/families_bsds12.csv
# (the other rows came out the same but for seconds_per_megapixel, this machine being about 2.5 times slower).
restore-embed families --split "folder:$D/bsds500-train" --photos 12 --report /tmp/families_bsds12.csv
# Leg 14 rescored on the validation pairs as rebuilt in the twelfth session (its noisy and dark composites differ slightly
# from the ones leg 14 was first scored on), so that the rule's comparisons are like for like.
restore-eval "$val" --seed 1 --categories "$categories" --checkpoint leg14=stage2_restore/weights/restorer --limit 20 \
    --report docs/results/restorer_val_leg14_rebuilt.csv
python docs/results/misdirected_val.py "$val" --limit 20 --input noise --checkpoint leg14=stage2_restore/weights/restorer \
    --report docs/results/misdirected_noise_val_leg14_rebuilt.csv
# Fourteenth session. Prompter 4: prompter 1's two heads retrained on the `dark` set, its trunk and projection frozen,
# so that leg 14 reads its vectors as they are (`export --prompter` checks the features). Rule in MODEL_CARD.md, set
# before training. Both pairs (leg 14 on prompter 1, leg 14 on prompter 4) are scored on this machine's pairs.
restore-embed pairs --split "$train" --families dark --cache-dir cache/dark --variants 1 --per-image 10 --categories "$categories"
restore-embed train-prompter --train "$train" --families dark --variants 1 --per-image 10 --val "$val" --heldout-val "$heldout" \
    --cache-dir cache/dark --heads-only --init-from shared/weights/assessor --epochs 6 --steps-per-epoch 300 --lr 1e-2 --out runs/prompter4
mkdir -p runs/leg14p1 && cp stage2_restore/weights/restorer/* runs/leg14p1/   # leg 14 as shipped, bound to prompter 1
restore-train export runs/leg14p1 -o runs/leg14p4 --prompter runs/prompter4   # the same weights, bound to prompter 4
validate_prompter() {  # prompter NAME in DIR: exact match on the dark and held-out validation pairs, clean photos called clear
    restore-embed eval-prompter --split "$val" --seed 1 --families dark --cache-dir cache/dark --prompter "$2" \
        --report "docs/results/$1_dark_val.csv"
    restore-embed eval-prompter --split "$heldout" --seed 3 --prompter "$2" --report "docs/results/$1_heldout_val.csv"
    restore-embed eval-prompter --split "$val" --seed 1 --prompter "$2" --report "docs/results/$1_val.csv"
    restore-embed assess "$D/bsds500-val" --prompter "$2" --report "docs/results/$1_clean_val.csv"
}
validate_pair() {  # restorer run NAME (runs/NAME) with the prompter it is bound to
    local leg=$1
    restore-eval "$val" --seed 1 --categories "$categories" --checkpoint "$leg=runs/$leg" --limit 20 --report "docs/results/restorer_val_$leg.csv"
    restore-eval "$val" --seed 1 --families dark --cache-dir cache/dark --categories "$categories" --checkpoint "$leg=runs/$leg" --limit 20 \
        --report "docs/results/restorer_dark_val_$leg.csv"
    restore-eval "$heldout" --seed 3 --categories "$categories" --checkpoint "$leg=runs/$leg" --limit 20 \
        --report "docs/results/restorer_heldout_val_$leg.csv"
    restore-eval "closeup:$D/bsds500-val" --seed 1 --categories clear,noise,blur --checkpoint "$leg=runs/$leg" --limit 20 \
        --report "docs/results/restorer_closeup_val_$leg.csv"
    restore-eval "weather:$D/bsds500-val" --seed 1 --categories "$wcategories" --checkpoint "$leg=runs/$leg" --limit 20 \
        --report "docs/results/restorer_weather_val_$leg.csv"
    python docs/results/clean_through_restore.py "$D/bsds500-val" --limit 20 --checkpoint "runs/$leg" --report "docs/results/clean_val_$leg.csv"
    python docs/results/clean_through_restore.py "$D/bsds500-val" --darkest 20 --checkpoint "runs/$leg" \
        --report "docs/results/dim_clean_val_$leg.csv"
}
validate_prompter prompter1 shared/weights/assessor
validate_prompter prompter4 runs/prompter4
validate_pair leg14p1
validate_pair leg14p4
# Every criterion met: prompter 4 shipped with leg 14 (the restorer's weights unchanged, its binding renamed), then the eval
# sets, scored after the decision (the classic-composite exact match and --true-prompts were not rerun, for time).
cp runs/prompter4/{model.safetensors,config.json,train_config.json,history.csv,history.png,reliability.png} shared/weights/assessor/
restore-train export runs/leg14p4 -o stage2_restore/weights/restorer   # prompter 4 is now the shipped one: "shipped"
restore-embed assess "$E/clean/kodak24" "$E/clean/mcmaster" "$E/clean/bsds500-test" --report docs/results/prompter4_clean.csv
restore-embed assess "$E/paired/polyu_real_noise/input" --report docs/results/prompter4_polyu.csv
restore-embed assess "$E/real_noref/rain_heavyrain_web" "$E/real_noref/snow_real" "$E/real_noref/haze_real" "$E/real_noref/lowlight_lime" \
    --report docs/results/prompter4_real_noref.csv
python docs/results/clean_through_restore.py "$E/clean/kodak24" "$E/clean/mcmaster" --report docs/results/clean_through_restore.csv
python docs/results/clean_through_restore.py --pairs "$E/paired/polyu_real_noise" --report docs/results/polyu_through_restore.csv
restore-eval "folder:$E/clean/bsds500-test" --seed 1234 --families classic --cache-dir cache/eval11-classic --limit 40 \
    --checkpoint new=stage2_restore/weights/restorer --report docs/results/campaign_composites.csv --grid docs/results/campaign_composites.png
for p in rain100h_jordere_subset outdoor_rain_test1 sots_outdoor_airnet lol_eval15 polyu_real_noise; do
    restore-eval "paired:$E/paired/$p" --checkpoint new=stage2_restore/weights/restorer --report "docs/results/campaign_real_$p.csv"
done
# Fifteenth session. `restore --keep-clear` chosen on validation (rule in MODEL_CARD.md, set before the sweep): the shipped
# pair under every candidate, on five validation sets (run here as two processes of one thread, their CSVs joined).
python docs/results/caution_sweep.py --keep-clear 0.5,0.6,0.7,0.8 --sure 0.9 --limit 20 \
    --sets "in-distribution,held-out families,dark,weather,close-ups" --report docs/results/keep_clear_sweep.csv
for k in 0.6 0.8; do
    python docs/results/clean_through_restore.py "$D/bsds500-val" --limit 20 --keep-clear $k --report "docs/results/clean_val_keep_clear_$k.csv"
    python docs/results/clean_through_restore.py "$D/bsds500-val" --darkest 20 --keep-clear $k \
        --report "docs/results/dim_clean_val_keep_clear_$k.csv"
done
# 0.6 chosen (restore's default now); scored after the decision.
python docs/results/clean_through_restore.py "$E/clean/kodak24" "$E/clean/mcmaster" --report docs/results/clean_through_restore.csv
python docs/results/clean_through_restore.py --pairs "$E/paired/polyu_real_noise" --report docs/results/polyu_through_restore.csv
python docs/results/real_noref_grid.py "$E/real_noref/rain_heavyrain_web" "$E/real_noref/snow_real" "$E/real_noref/haze_real" \
    "$E/real_noref/lowlight_lime" --per-folder 3 -o docs/results/real_noref.png
# Prompter 4 on the classic composites (#11's first measure) and what its mistakes cost leg 14 (--true-prompts).
restore-embed eval-prompter --split "folder:$E/clean/bsds500-test" --seed 1234 --families classic --cache-dir cache/eval-classic \
    --report docs/results/prompter4_eval_classic.csv --confusion docs/results/prompter4_confusion_classic.png
restore-eval "$val" --seed 1 --categories "$categories" --checkpoint shipped=stage2_restore/weights/restorer --true-prompts --limit 20 \
    --report docs/results/restorer_val_leg14p4_true.csv
restore-eval "$heldout" --seed 3 --categories "$categories" --checkpoint shipped=stage2_restore/weights/restorer --true-prompts \
    --limit 20 --report docs/results/restorer_heldout_val_leg14p4_true.csv
# Dim rooms (the `dimroom:` split, added after the decision): PolyU's failure on validation.
restore-eval "dimroom:$D/bsds500-val" --seed 1 --categories clear,noise --checkpoint shipped=stage2_restore/weights/restorer --limit 20 \
    --report docs/results/restorer_dimroom_val_leg14p4.csv
python docs/results/caution_sweep.py --keep-clear 0.5,0.6,0.7,0.8 --sure 0.9 --limit 20 --sets "dim rooms" \
    --report docs/results/keep_clear_sweep_dim_rooms.csv
restore-eval "dimroom:$D/bsds500-val" --seed 1 --categories clear,noise --checkpoint shipped=stage2_restore/weights/restorer --limit 20 \
    --true-prompts --report docs/results/restorer_dimroom_val_leg14p4_true.csv
# Sixteenth session. Restorer leg 17: leg 14's mixture plus the `dimroom:` split (dim rooms, clean and noisy, target as
# dark) at a tenth of every batch, taken from the overcalled rows. Rule in MODEL_CARD.md, set before training. Every
# training split's vectors rebuilt with the shipped prompter 4 on a fresh machine (pairs with --workers 2). Not trained
# yet: the session ran out after the pairs (main 23 min, closeup 2, weather 8, underexposed 7, dimroom 1.5 on 2 workers).
dimroom="dimroom:$D/bsds500-train,$D/urban100,$D/sunhays80,$D/dpst,$D/imagenet,$D/t91,$D/div2k"
restore-embed pairs --split "$dimroom" --categories clear,noise --workers 2
for split in "$train" "$closeup" "$weather" "$under" "$dimroom"; do
    restore-embed build --split "$split" --encoder local --prompter shared/weights/assessor
done
