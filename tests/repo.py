"""Where the repository's own files are, for tests that read docs, profiles or deploy files."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
