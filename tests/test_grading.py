"""Grading with nbgrader itself.

Every lesson is released with `nbgrader generate_assignment`, and our release must match it.
One lesson is also autograded end to end (each autograde executes the whole notebook, so doing
all of them would cost CI minutes; nbval already runs every solution's graded cells and every
student notebook's failing ones): the solution earns every point, the untouched student
notebook none, and a student who rewrites the graded cells gains nothing."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_tools.grading_course import make_course
from course_tools.release import strip_test_markers, student_version

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(path.stem for path in (ROOT / "solutions").glob("*.ipynb"))

pytestmark = pytest.mark.slow
AUTOGRADED = ["01_convolution"]
SUBMISSIONS = ("solved", "untouched", "cheater")


def nbgrader(course, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr


def tampered(student_notebook):
    """The released notebook with every graded cell replaced by `pass`."""
    notebook = nbformat.read(student_notebook, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    return notebook


def submit(course, student, lesson, notebook):
    folder = course / "submitted" / student / lesson
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{lesson}.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """An nbgrader course with every lesson released, and AUTOGRADED submitted three ways and graded."""
    course = make_course(tmp_path_factory.mktemp("course"))
    nbgrader(course, "generate_assignment", "*", "--create")  # every lesson, one process (not 10)
    assert sorted(path.name for path in (course / "release").iterdir()) == LESSONS
    for lesson in AUTOGRADED:
        released = course / "release" / lesson / f"{lesson}.ipynb"
        submit(course, "solved", lesson, nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4))
        submit(course, "untouched", lesson, nbformat.read(released, as_version=4))
        submit(course, "cheater", lesson, tampered(released))
        nbgrader(course, "autograde", lesson, "--create")
    return course


def scores(course, lesson):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {student: (gradebook.find_submission(lesson, student).score,
                          gradebook.find_submission(lesson, student).max_score) for student in SUBMISSIONS}


@pytest.mark.parametrize("lesson", AUTOGRADED)
def test_solution_earns_every_point(course, lesson):
    score, max_score = scores(course, lesson)["solved"]
    assert max_score >= 7 and score == max_score


@pytest.mark.parametrize("lesson", AUTOGRADED)
def test_untouched_student_notebook_earns_nothing(course, lesson):
    assert scores(course, lesson)["untouched"][0] == 0


@pytest.mark.parametrize("lesson", AUTOGRADED)
def test_rewriting_graded_cells_earns_nothing(course, lesson):
    assert scores(course, lesson)["cheater"][0] == 0


@pytest.mark.parametrize("lesson", LESSONS)
def test_our_release_matches_nbgrader_generate_assignment(course, lesson):
    theirs = nbformat.read(course / "release" / lesson / f"{lesson}.ipynb", as_version=4)
    theirs = strip_test_markers(theirs).cells  # ours also drops nbval's markers (not nbgrader's cells)
    ours = student_version(nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)).cells
    assert [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in ours] == \
        [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in theirs]
