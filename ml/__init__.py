"""runwright: a reproducible pipeline from data to a verified ONNX model, driven by DVC."""

__version__ = "0.1.0"
