"""environment.yml (conda) and pyproject.toml (pip) list the same dependencies."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}  # pip name -> conda-forge name, where they differ


def requirement_names(requirements):
    return {re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower() for req in requirements}


def test_environment_yml_lists_what_pyproject_lists():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = requirement_names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        pip_names |= requirement_names(extra)
    conda_text = (ROOT / "environment.yml").read_text().split("dependencies:")[1]
    conda_lines = re.findall(r"^  - ([A-Za-z][\w.-]*)", conda_text, re.M)
    conda_names = set(map(str.lower, conda_lines)) - {"python", "pip"}
    assert {CONDA_NAMES.get(name, name) for name in pip_names} == conda_names


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    commands = [line for line in first_block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ["bash bootstrap.sh lab", "bash bootstrap.sh test"]
