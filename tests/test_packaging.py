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


def course_requirements():
    """The course's own requirements as pip metadata writes them (pyproject.toml, not the
    possibly older installed copy)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + [f'{text}; extra == "{extra}"'
                                      for extra, texts in project["optional-dependencies"].items()
                                      for text in texts]


def installed_closure(name, extras=()):
    """Distribution names that installing ``name[extras]`` pulls in: the course's requirements,
    then what the installed packages require."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen, pending = set(), [(name, tuple(extras))]
    while pending:
        current, wanted = pending.pop()
        key = current.lower().replace("_", "-")
        if (key, wanted) in seen:
            continue
        seen.add((key, wanted))
        try:
            own = key == "course-utils"
            requirements = course_requirements() if own else metadata.requires(current) or []
        except metadata.PackageNotFoundError:
            continue  # an optional platform dependency not installed here
        for text in requirements:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            pending.append((requirement.name, tuple(sorted(requirement.extras))))
    return {key for key, _ in seen}


def test_a_students_setup_installs_no_grading_or_test_tools():
    student = installed_closure("course-utils")
    assert {"torch", "jupyterlab", "ipywidgets", "matplotlib"} <= student
    assert not student & {"nbgrader", "jupytext", "pytest", "nbval", "playwright", "captum", "ruff"}
    assert "nbgrader" in installed_closure("course-utils", ["instructor"])
    assert {"pytest", "playwright", "captum"} <= installed_closure("course-utils", ["tests"])


def test_bootstrap_gives_each_user_their_extras():
    script = (ROOT / "bootstrap.sh").read_text()
    commands = dict(re.findall(r"^    (\w+)\)\n\s+setup ([\w,\"]+)", script, re.M))
    assert commands == {"lab": '""', "instructor": "instructor", "test": "tests,instructor"}
