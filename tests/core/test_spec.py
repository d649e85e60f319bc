"""Where family specs come from: the installed package's templates, never a stray folder next to site-packages."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_installed_package_reads_only_its_own_templates(tmp_path):
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "swiftcls", site / "swiftcls", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", site / "swiftcls" / "templates")  # what pip install puts there
    decoy = site / "templates"  # site-packages/templates: not swiftcls's, e.g. another package's data
    decoy.mkdir()
    (decoy / "decoy.yaml").write_text("name: decoy\nmodel_types: [decoy]\nkind: decoder\n")
    code = ("from swiftcls.core.spec import load_specs, template_dirs; specs = load_specs(); "
            "print(len(template_dirs()), 'qwen2' in specs, 'decoy' in specs)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "True", "False"]
