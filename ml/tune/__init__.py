"""`ml tune`: a bounded search over `train` settings (Optuna study, one trial per setting, the
search space of params.yaml `tune`), written back into params.yaml as a person would."""
