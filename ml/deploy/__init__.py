"""`ml deploy`: MLflow registry aliases, deploy targets (local, docker, kserve), smoke test and
rollback. Nothing here is imported by the service itself."""
