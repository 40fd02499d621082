"""Where things are, for every test: the repository root and the folders tests read from it."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
