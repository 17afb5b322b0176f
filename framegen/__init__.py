"""framegen: a PyTorch Lightning + Hydra framework and tool for video frame interpolation."""

__version__ = "0.1.0"
