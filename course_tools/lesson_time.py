"""How long a lesson takes, measured from its source: the "**Time.**" paragraph of its header.

    python -m course_tools.lesson_time solutions/*.py            # print the estimates
    python -m course_tools.lesson_time --write solutions/*.py    # rewrite each Time paragraph
                                                                 # (.py, .ipynb and student copy)

The estimate adds up what a student does: read the text (words in markdown cells), read and run
the code (non-blank lines of code cells, without the exercises' solutions and hidden tests,
which a student never reads), solve the graded exercises, and wait for the cells to compute.
The computing time is measured by ``scripts/build_lesson.py`` when it executes the lesson (full
mode) and written into the paragraph; ``--write`` keeps the figure already there.
``tests/test_lesson_time.py`` holds every lesson's paragraph to its source.
"""

import argparse
import math
import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from course_tools.release import released_text

READING_WORDS_PER_MINUTE = 150   # technical text with formulas, read to be understood
CODE_LINES_PER_MINUTE = 8        # read, run, look at the output
MINUTES_PER_EXERCISE = 15

TIME_PARAGRAPH = re.compile(r"^\*\*Time\.\*\*.*?(?=\n\s*\n|\Z)", re.S | re.M)
RUN_MINUTES = re.compile(r"(\d+) min of computing")
HIDDEN = re.compile(r"### BEGIN (HIDDEN TESTS|SOLUTION).*?### END \1", re.S)

__all__ = ["LessonSize", "measure", "time_paragraph", "current_run_minutes", "with_time_paragraph",
           "write_time_paragraph"]


@dataclass(frozen=True)
class LessonSize:
    words: int
    code_lines: int
    exercises: int

    def minutes(self, run_minutes):
        return (self.reading_minutes + self.code_minutes + self.exercise_minutes + run_minutes)

    @property
    def reading_minutes(self):
        return math.ceil(self.words / READING_WORDS_PER_MINUTE)

    @property
    def code_minutes(self):
        return math.ceil(self.code_lines / CODE_LINES_PER_MINUTE)

    @property
    def exercise_minutes(self):
        return self.exercises * MINUTES_PER_EXERCISE


def measure(notebook):
    """Words, code lines and graded exercises of a notebook (nbformat), Time paragraph excluded."""
    words = code_lines = exercises = 0
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            words += len(TIME_PARAGRAPH.sub("", cell.source).split())
        elif cell.cell_type == "code":
            source = HIDDEN.sub("", cell.source)
            code_lines += sum(1 for line in source.splitlines()
                              if line.strip() and not line.lstrip().startswith("# NBVAL"))
            exercises += bool(cell.metadata.get("nbgrader", {}).get("solution"))
    return LessonSize(words, code_lines, exercises)


def time_paragraph(size, run_minutes):
    """The header's Time paragraph for a lesson of this size that computes for run_minutes."""
    return (f"**Time.** About {size.minutes(run_minutes)} minutes: {size.words:,} words to read "
            f"({size.reading_minutes} min at {READING_WORDS_PER_MINUTE} words a minute), "
            f"{size.code_lines} lines of code to read and run ({size.code_minutes} min at "
            f"{CODE_LINES_PER_MINUTE} a minute), {size.exercises} graded "
            f"exercise{'s' * (size.exercises != 1)} "
            f"({size.exercise_minutes} min), and {run_minutes} min of computing for the whole "
            f"notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).")


def current_run_minutes(notebook):
    """The computing minutes stated in the notebook's Time paragraph (0 if none is stated)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and TIME_PARAGRAPH.search(cell.source):
            found = RUN_MINUTES.search(TIME_PARAGRAPH.search(cell.source).group(0))
            return int(found.group(1)) if found else 0
    return 0


def with_time_paragraph(notebook, run_minutes=None):
    """Rewrite the first Time paragraph in place; ValueError if the lesson has none."""
    if run_minutes is None:
        run_minutes = current_run_minutes(notebook)
    paragraph = time_paragraph(measure(notebook), run_minutes)
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and TIME_PARAGRAPH.search(cell.source):
            cell.source = TIME_PARAGRAPH.sub(lambda _: paragraph, cell.source, count=1)
            return notebook
    raise ValueError("the lesson has no paragraph starting with '**Time.**' in a markdown cell: "
                     "add one to its header (its own paragraph), then run this again")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="+", type=Path, help="solutions/NN_slug.py files")
    parser.add_argument("--write", action="store_true", help="rewrite each lesson's Time paragraph")
    parser.add_argument("--run-minutes", type=int, default=None,
                        help="computing minutes measured for a full run outside build_lesson.py "
                             "(default: keep the figure in the paragraph)")
    args = parser.parse_args(argv)
    for path in args.lessons:
        notebook = jupytext.read(path)
        run_minutes = current_run_minutes(notebook) if args.run_minutes is None else args.run_minutes
        print(f"{path}: {time_paragraph(measure(notebook), run_minutes)}")
        if args.write:
            write_time_paragraph(path, run_minutes)


def write_time_paragraph(py_path, run_minutes=None):
    """Rewrite the Time paragraph of a lesson's .py, its paired .ipynb (outputs kept) and the
    student notebook in notebooks/ generated from it."""
    py_path = Path(py_path)
    ipynb_path = py_path.with_suffix(".ipynb")
    if run_minutes is None:
        run_minutes = current_run_minutes(jupytext.read(py_path))
    jupytext.write(with_time_paragraph(jupytext.read(py_path), run_minutes), py_path, fmt="py:percent")
    if ipynb_path.exists():
        nbformat.write(with_time_paragraph(nbformat.read(ipynb_path, as_version=4), run_minutes), ipynb_path)
        student = py_path.parent.parent / "notebooks" / ipynb_path.name
        if student.exists():
            student.write_text(released_text(ipynb_path))


if __name__ == "__main__":
    main()
