"""What a new user meets first on a fresh clone: module docs from a checkout, test files inside it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("ccs_*.py"))


def documentation(module: str) -> dict[str, object]:
    text = (REPO / "plugins" / "modules" / f"{module}.py").read_text(encoding="utf-8")
    return yaml.safe_load(text.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])


def test_tmp_path_is_inside_the_checkout(tmp_path: Path) -> None:
    assert tmp_path.resolve().is_relative_to((REPO / "tests" / "output").resolve()), tmp_path


def test_the_readme_ansible_doc_line_works_from_a_checkout() -> None:
    lines = [line for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines() if "bin/ansible-doc iis.ccs." in line]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_COLLECTIONS_PATH"}
    env.update(w.split("=", 1) for w in words if "=" in w)
    command = [str(BIN / "ansible-doc") if w.endswith("/ansible-doc") else w for w in words if "=" not in w]
    # The tests' own environment links the collection the way tools/bootstrap does.
    assert (REPO / "tests" / "output" / "collections" / "ansible_collections" / "iis" / "ccs").exists()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "iis.ccs.ccs_cert_publish" in done.stdout and "not found" not in done.stdout + done.stderr


@pytest.mark.parametrize("module", MODULES)
def test_every_module_names_its_authors_with_a_github_handle(module: str) -> None:
    authors = documentation(module)["author"]
    assert isinstance(authors, list) and authors
    assert all(re.search(r"\(@[\w-]+\)$", author) and "!UNKNOWN" not in author for author in authors), authors


def test_publish_description_keeps_to_what_the_user_decides() -> None:
    description = " ".join(documentation("ccs_cert_publish")["description"])  # type: ignore[arg-type]
    # Internals (record, temporary files) live in notes and docs/user-guide.md.
    assert ".iis-ccs-manifest.json" not in description and ".iis-ccs-tmp" not in description
    assert len(description) < 1500
