"""`ml monitor`: probe the deployed service, restart or redeploy the champion when it fails, and
report drift of the inputs it sampled against the training reference."""
