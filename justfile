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

# The main job on the embedded default: the demo split from scikit-image's photos
demo: setup
    .venv/bin/restore-embed build --split demo
    .venv/bin/restore-eval demo --report cache/demo/metrics.csv

# Rewrite docs/degradations.png (one photo under every category)
gallery: setup
    .venv/bin/restore-embed gallery -o docs/degradations.png
