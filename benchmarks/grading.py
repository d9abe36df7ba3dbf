"""Seconds to grade a student with the sandboxed judge, per lesson and for a mixed class.

    python benchmarks/grading.py [--lessons 01_convolution 02_receptive_fields] [--class-size 50]
        [--workers N] [--skip-lessons] [--skip-class]

* Per lesson: the solution notebook, submitted by one student, graded by one judge
  (`course_tools.grading_class.grade_class`, COURSE_QUICK=1): seconds in the judge (sandbox
  start, the student's cells, the graded tests), the wall time with the judge process's own
  start-up (importing torch and the lesson), and the points.
* A class: ``--class-size`` lesson 01 submissions cycling through every kind of
  tests/hostile/variants.py (honest, blank, endless loop, crash, monkeypatching, ...), graded
  with ``--workers`` judges: wall seconds, seconds per student, and how many got exactly
  their expected points.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_tools.grading_class import grade_class  # noqa: E402
from course_tools.grading_judge import Settings  # noqa: E402
from tests.hostile.variants import EXPECTED, LESSON, write_submission  # noqa: E402


def solution_notebook(lesson, folder):
    """solutions/LESSON.ipynb, or one made from its jupytext script if it has no pair yet."""
    notebook = ROOT / "solutions" / f"{lesson}.ipynb"
    if notebook.exists():
        return notebook
    import jupytext
    made = folder / f"{lesson}.ipynb"
    jupytext.write(jupytext.read(ROOT / "solutions" / f"{lesson}.py"), made)
    return made


def lesson_seconds(lesson, folder, settings):
    """(wall seconds with the judge's start-up, seconds in the judge, points, max points,
    failing graded cells) for one solution notebook graded alone."""
    submissions = folder / lesson / "submitted"
    (submissions / "solution").mkdir(parents=True)
    source = solution_notebook(lesson, folder)
    shutil.copy(source, submissions / "solution" / f"{lesson}.ipynb")
    started = time.monotonic()
    record = grade_class(source, submissions, folder / lesson / "out",
                         workers=1, settings=settings, progress=lambda line: None)["solution"]
    failing = [f"{e['grade_id']}: {e['message'][:80]}" for e in record["exercises"]
               if e["status"] != "passed"]
    return time.monotonic() - started, record["seconds"], record["points"], record["max_points"], failing


def class_seconds(size, workers, folder, settings):
    """(wall seconds, number of students with their expected points, size)."""
    kinds = sorted(EXPECTED)
    expected = {}
    for number in range(size):
        kind = kinds[number % len(kinds)]
        student = f"s{number:03d}_{kind}"
        write_submission(folder / "class", student, kind)
        expected[student] = EXPECTED[kind][0]
    started = time.monotonic()
    results = grade_class(ROOT / "solutions" / f"{LESSON}.ipynb", folder / "class", folder / "class-out",
                          workers=workers, settings=settings, progress=lambda line: None)
    right = sum(results[s]["points"] == points for s, points in expected.items())
    return time.monotonic() - started, right, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    lessons = sorted({p.stem for p in (ROOT / "solutions").glob("[0-9]*.py")})
    parser.add_argument("--lessons", nargs="*", default=lessons)
    parser.add_argument("--class-size", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--skip-lessons", action="store_true")
    parser.add_argument("--skip-class", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    print(f"{os.cpu_count()} cores; default limits: call {settings.call_timeout:g} s, exercise "
          f"{settings.exercise_timeout:g} s, cell {settings.cell_timeout:g} s, "
          f"notebook {settings.notebook_timeout:g} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.skip_lessons:
            for lesson in args.lessons:
                wall, seconds, points, max_points, failing = lesson_seconds(lesson, folder, settings)
                failing = f"  not judged: {failing}" if failing else ""
                print(f"{lesson:28s} {seconds:6.1f} s per student ({wall:5.1f} s with the judge's start-up); "
                      f"solution: {points:g}/{max_points:g}{failing}", flush=True)
        if not args.skip_class:
            seconds, right, size = class_seconds(args.class_size, args.workers, folder, settings)
            print(f"class of {size} mixed lesson 01 submissions, {args.workers} workers: {seconds:.0f} s "
                  f"({seconds / size:.1f} s per student); {right}/{size} got their expected points")


if __name__ == "__main__":
    main()
