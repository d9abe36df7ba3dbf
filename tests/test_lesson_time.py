"""Every lesson's Time paragraph is computed from its source (course_tools.lesson_time)."""

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_tools.lesson_time import (
    LessonSize,
    current_run_minutes,
    measure,
    time_paragraph,
    with_time_paragraph,
)

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "solutions").glob("*.py"))


def lesson_notebook(time_line="**Time.** to be measured"):
    exercise = new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n")
    exercise.metadata["nbgrader"] = {"solution": True, "grade": False}
    graded = new_code_cell("check(f)\n### BEGIN HIDDEN TESTS\nassert f(1) == 1\nassert f(2) == 2\n"
                           "### END HIDDEN TESTS\n")
    return new_notebook(cells=[
        new_markdown_cell(f"# Title\n\nfour more words here\n\n{time_line}\n"
                          "still the time paragraph\n\nnext"),
        new_code_cell("import numpy as np\n\n# NBVAL_IGNORE_OUTPUT\n# why\nprint(1)"),
        exercise, graded])


def test_measure_counts_what_a_student_reads_and_does():
    size = measure(lesson_notebook())
    # "# Title" (2) + "four more words here" (4) + "next" (1); the Time paragraph is left out
    assert size == LessonSize(words=7, code_lines=3 + 1 + 1, exercises=1)


def test_the_paragraph_is_rewritten_in_place_and_keeps_the_measured_run():
    notebook = with_time_paragraph(lesson_notebook(), run_minutes=7)
    text = notebook.cells[0].source
    assert text.startswith("# Title\n\nfour more words here\n\n**Time.** About ")
    assert text.endswith("\n\nnext") and "still the time paragraph" not in text
    assert current_run_minutes(notebook) == 7
    assert with_time_paragraph(notebook).cells[0].source == text     # run minutes kept
    size = measure(notebook)
    assert f"About {size.minutes(7)} minutes" in text and size.minutes(7) == 1 + 1 + 15 + 7


def test_a_lesson_without_a_time_paragraph_is_told_what_to_add():
    notebook = lesson_notebook(time_line="no estimate")
    with pytest.raises(ValueError, match=r"no paragraph starting with '\*\*Time\.\*\*'"):
        with_time_paragraph(notebook)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_states_the_time_its_source_implies(path):
    for notebook in (jupytext.read(path), nbformat.read(path.with_suffix(".ipynb"), as_version=4)):
        expected = time_paragraph(measure(notebook), current_run_minutes(notebook))
        stated = [c.source for c in notebook.cells if c.cell_type == "markdown" and "**Time.**" in c.source]
        assert stated and expected in stated[0], (
            f"{path.name}: the Time paragraph is stale; run "
            f"`python -m course_tools.lesson_time --write {path.relative_to(ROOT)}`")
        assert current_run_minutes(notebook) > 0, f"{path.name}: rebuild it to measure its run"
