"""The pipeline in CI: `ml repro` with the DVC remote in the loop, `ml dvc-remote`, checked
`ml overrides`, and retraining as a DVC `ml experiment`."""
