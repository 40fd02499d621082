"""GPUs: what the machine has (probe), whether it fits the installed TensorFlow (`ml gpu-check`),
and how training uses them (devices)."""
