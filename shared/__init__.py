"""Common code of mllm-restore: image I/O, degradation synthesis, splits, metrics, configs.

Both stages import from here; nothing here imports a stage.
"""

__version__ = "0.1.0"
