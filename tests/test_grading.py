"""Grading with nbgrader itself: the solution earns every point, the untouched
student notebook none, and a student who rewrites a graded cell gains nothing."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSON = "01_convolution"
sys.path.insert(0, str(ROOT / "scripts"))
from grading_course import make_course  # noqa: E402
from release import student_version  # noqa: E402


def nbgrader(course, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr


def tampered(student_notebook):
    """The released notebook with every graded cell replaced by `pass`."""
    notebook = nbformat.read(student_notebook, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"))
    nbgrader(course, "generate_assignment", LESSON, "--create")
    released = course / "release" / LESSON / f"{LESSON}.ipynb"
    submissions = {"solved": ROOT / "solutions" / f"{LESSON}.ipynb", "untouched": released}
    for student, source in submissions.items():
        folder = course / "submitted" / student / LESSON
        folder.mkdir(parents=True)
        shutil.copy(source, folder / f"{LESSON}.ipynb")
    folder = course / "submitted" / "cheater" / LESSON
    folder.mkdir(parents=True)
    nbformat.write(tampered(released), folder / f"{LESSON}.ipynb")
    nbgrader(course, "autograde", LESSON, "--create")
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission(LESSON, s) for s in ("solved", "untouched", "cheater")}
        scores = {s: (sub.score, sub.max_score) for s, sub in scores.items()}
    return course, released, scores


def test_solution_earns_every_point(graded):
    _, _, scores = graded
    score, max_score = scores["solved"]
    assert max_score >= 8 and score == max_score


def test_untouched_student_notebook_earns_nothing(graded):
    assert graded[2]["untouched"][0] == 0


def test_rewriting_graded_cells_earns_nothing(graded):
    assert graded[2]["cheater"][0] == 0


def test_our_release_matches_nbgrader_generate_assignment(graded):
    _, released, _ = graded
    theirs = nbformat.read(released, as_version=4).cells
    ours = student_version(nbformat.read(ROOT / "solutions" / f"{LESSON}.ipynb", as_version=4)).cells
    assert [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in ours] == \
        [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in theirs]
