# mllm-restore tasks. Every recipe bootstraps .venv first (idempotent).
set shell := ["bash", "-euo", "pipefail", "-c"]

python := ".venv/bin/python"

# Show the recipes
default:
    @just --list

# Create .venv and install the project (re-runs only when pyproject.toml changes)
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    [ -x .venv/bin/python ] || python3 -m venv .venv
    stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        .venv/bin/python -m pip install -q --upgrade pip
        # Pinned first and alone: a bare `torch` would pull a multi-GB CUDA build.
        .venv/bin/python -m pip install -q torch==2.13.0
        .venv/bin/python -m pip install -q -e '.[test]'
        rm -f .venv/.installed-*
        touch "$stamp"
    fi

# Run the test suite (extra arguments go to pytest)
test *ARGS: setup
    {{python}} -m pytest {{ARGS}}

# The main job on the embedded default: scikit-image's photos -> pairs -> vectors -> fine-tune -> evaluate -> restore
demo: setup
    #!/usr/bin/env bash
    set -euo pipefail
    start=$SECONDS
    out=cache/demo
    shipped=stage2_restore/weights/restorer
    .venv/bin/restore-embed build --split demo --encoder local
    rm -rf "$out/finetune"  # the demo shows training from scratch of the fine-tune each time (about a minute)
    .venv/bin/restore-train run --split demo --init-from "$shipped" --steps 120 --batch-size 4 --crop 96 --lr 1e-4 \
        --checkpoint-every 40 --out "$out/finetune"
    .venv/bin/restore-eval demo --checkpoint "shipped=$shipped" --checkpoint "fine-tuned=$out/finetune" \
        --report "$out/metrics.csv" --grid "$out/demo.png"
    .venv/bin/restore "$out/pairs/degraded/low_haze_rain/motorcycle.png" -o "$out/motorcycle.restored.png" --compare --overwrite
    echo
    echo "demo finished in $((SECONDS - start)) s. Written:"
    echo "  pairs (degraded/clean)   $out/pairs/"
    echo "  embeddings (HDF5)        $(ls -d $out/local-*)"
    echo "  fine-tuned checkpoint    $out/finetune/checkpoint  (loss curve: $out/finetune/loss.png)"
    echo "  metrics                  $out/metrics.csv  (fine-tuned was trained on these same 5 photos: a demo, not a benchmark)"
    echo "  before/after grid        $out/demo.png"
    echo "  restored photo           $out/motorcycle.restored.png  (side by side: $out/motorcycle.restored.compare.png)"

# Benchmarks of both stages in one run, rewriting BENCHMARKS.md (~15 min; `just bench --quick`: under 2 min)
bench *ARGS: setup
    #!/usr/bin/env bash
    set -euo pipefail
    start=$SECONDS
    .venv/bin/restore-embed build --split demo --encoder local > /dev/null  # the training benchmarks read this cache
    .venv/bin/python -m stage1_embed.bench --out cache/bench/stage1.json {{ARGS}}
    .venv/bin/python -m stage2_restore.bench run --out cache/bench/stage2.json {{ARGS}}
    .venv/bin/python -m stage2_restore.bench_report cache/bench/stage1.json cache/bench/stage2.json -o BENCHMARKS.md --command "just bench {{ARGS}}"
    echo "bench finished in $((SECONDS - start)) s"

# Start the web app on http://127.0.0.1:8501
app: setup
    .venv/bin/restore-app

# Rewrite docs/degradations.png (one photo under every category)
gallery: setup
    .venv/bin/restore-embed gallery -o docs/degradations.png
