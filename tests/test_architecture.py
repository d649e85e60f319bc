"""The package's layers hold: import-linter's contracts in pyproject.toml (layers, no cycles) are kept."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept():
    lint = shutil.which("lint-imports")
    assert lint, "lint-imports not found: pip install -e '.[tests]' installs import-linter"
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "2 kept, 0 broken" in done.stdout


def test_test_file_names_are_unique():
    """tests/ has no __init__.py files, so pytest imports each test file by its basename: two files with one name
    in different folders stop the whole run at collection ("import file mismatch")."""
    seen = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"rename one of each: {clashes}"
