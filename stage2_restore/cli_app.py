"""`restore-app`: start the Streamlit web app on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from shared.cli import console, run_app
from shared.contract import checkpoint_folder, read_binding
from shared.errors import ConfigError

app = typer.Typer(add_completion=False)

MAX_UPLOAD_MB = 50


@app.command()
def serve(
    port: int = typer.Option(8501, "--port"),
    address: str = typer.Option("127.0.0.1", "--address", help="0.0.0.0 to serve other machines"),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Restorer folder (default: the shipped one)"),
) -> None:
    """Serve the web app: upload, detect, steer, restore, compare, score against a ground truth."""
    if checkpoint is not None:  # refused here, in one line, rather than at the first upload
        read_binding(checkpoint)
        if not (checkpoint_folder(checkpoint) / "model.safetensors").is_file():
            raise ConfigError(f"{checkpoint}: no model.safetensors; give a run folder or one written by restore-train export")
    script = Path(__file__).with_name("app.py")
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    if checkpoint is not None:
        env["RESTORE_CHECKPOINT"] = str(checkpoint.resolve())
    console.print(f"mllm-restore app on http://{address}:{port} (Ctrl+C stops it)")
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port), "--server.address", address,
               "--server.headless", "true", "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--global.developmentMode", "false",
               "--runner.magicEnabled", "false", "--client.toolbarMode", "viewer"]  # fmt: skip
    sys.exit(subprocess.call(command, env=env))


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
