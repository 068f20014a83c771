"""Run a console script the way a user does: a fresh process, its exit code and its output."""

from __future__ import annotations

import os
import subprocess
import sys

ENTRY_POINTS = {
    "restore-embed": "stage1_embed.cli",
    "restore-train": "stage2_restore.cli_train",
    "restore-eval": "stage2_restore.cli_eval",
    "restore": "stage2_restore.cli_restore",
    "restore-app": "stage2_restore.cli_app",
}


def run_cli(command: str, *args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    """Run `command` (a console-script name) with args; COLUMNS is wide so rich does not wrap."""
    code = f"from {ENTRY_POINTS[command]} import main; main()"
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=300)
