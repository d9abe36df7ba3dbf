"""The lesson notebooks follow the course's mechanics (docs/DESIGN.md, Notebook mechanics).

nbval itself runs the notebooks (see pyproject.toml); these tests check what nbval
cannot: jupytext pairs in sync, student versions generated and free of solutions,
and every exercise wired to an instant check and a graded cell.
"""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_tools.notebook_pairs import pair_difference
from course_tools.release import without_test_markers

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
ids = [path.stem for path in SOLUTIONS]
SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def test_there_are_lessons():
    assert SOLUTIONS, "no solutions/*.ipynb found"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_jupytext_pair_is_in_sync(solution):
    assert pair_difference(solution) is None, pair_difference(solution)


def test_student_notebooks_are_what_release_generates():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "release.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_no_stray_student_notebooks():
    students = {path.name for path in (ROOT / "notebooks").glob("*.ipynb")}
    assert students == {path.name for path in SOLUTIONS}


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_student_version_holds_no_solution_and_no_hidden_test(solution):
    student = nbformat.read(ROOT / "notebooks" / solution.name, as_version=4)
    text = "\n".join(cell.source for cell in student.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert all(not cell.get("outputs") for cell in student.cells if cell.cell_type == "code")
    source = nbformat.read(solution, as_version=4)
    secret_lines = {line.strip() for cell in source.cells
                    for block in SOLUTION_BLOCK.findall(cell.source) + HIDDEN_BLOCK.findall(cell.source)
                    for line in block.splitlines() if len(line.strip()) > 12}
    public = "\n".join(HIDDEN_BLOCK.sub("", SOLUTION_BLOCK.sub("", cell.source)) for cell in source.cells)
    leaked = [line for line in secret_lines if line in text and line not in public]
    assert not leaked, f"solution or hidden-test lines in the student notebook: {leaked}"
    stubs = [cell for cell in student.cells if nbgrader_meta(cell).get("solution")]
    assert stubs and all("raise NotImplementedError()" in cell.source for cell in stubs)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_student_version_shows_nothing_for_the_test_tools(solution):
    student = nbformat.read(ROOT / "notebooks" / solution.name, as_version=4)
    assert not [cell.source for cell in student.cells if "NBVAL" in cell.source]


def test_release_drops_the_nbval_marker_and_its_reason_only():
    source = "# NBVAL_IGNORE_OUTPUT\n# Timings vary.\n# (two lines of reason)\nx = 1  # kept\n# kept too"
    assert without_test_markers(source) == "x = 1  # kept\n# kept too"
    assert without_test_markers("x = 1\n# NBVAL_IGNORE_OUTPUT") == "x = 1\n# NBVAL_IGNORE_OUTPUT"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_every_exercise_has_an_instant_check_and_a_graded_cell(solution):
    cells = [c for c in nbformat.read(solution, as_version=4).cells if c.cell_type == "code"]
    exercises = [i for i, c in enumerate(cells) if nbgrader_meta(c).get("solution")]
    assert len(exercises) >= 3
    for i in exercises:
        check, graded = cells[i + 1], cells[i + 2]
        name = re.search(r"def (\w+)", cells[i].source).group(1)
        assert re.search(rf"check_\w+\({name}\)", check.source), f"no instant check after {name}"
        assert nbgrader_meta(graded).get("grade") and nbgrader_meta(graded).get("points", 0) > 0
        assert "BEGIN HIDDEN TESTS" in graded.source, f"{name}'s graded cell has no hidden tests"
        for cell in (check, graded):  # they raise while the exercise is unsolved
            assert "raises-exception" in cell.metadata.get("tags", [])


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_solution_is_executed_with_outputs(solution):
    cells = [c for c in nbformat.read(solution, as_version=4).cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in cells), "run scripts/build_lesson.py"
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), "executed out of order: rebuild the lesson"
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, f"stored outputs contain errors: {[e.ename for e in errors]}"
