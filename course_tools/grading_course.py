"""Make an nbgrader course directory from solutions/, for grading with nbgrader.

    python scripts/grading_course.py ~/cnn-grading
    cd ~/cnn-grading
    nbgrader generate_assignment 01_convolution --create   # release/01_convolution/...
    # put submissions in submitted/<student>/01_convolution/01_convolution.ipynb, then
    python scripts/grade_class.py 01_convolution submitted --course .   # sandboxed, parallel
    nbgrader export                                         # grades.csv

Each lesson NN_slug becomes the nbgrader assignment NN_slug holding one
notebook. Re-running refreshes source/ and leaves submissions and the gradebook alone.
``nbgrader autograde`` keeps working on the folder (in quick mode, with a per-cell timeout
in seconds), but it runs each student's kernel with the grader's rights and judges in the
student's namespace: for a class, grade with scripts/grade_class.py
(:mod:`course_tools.grading_class`), which writes into the same gradebook.
"""

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONFIG = '''c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "cnn-course"
# The notebooks import course_utils, this file course_tools: grade where the package is installed.
# Per cell, in seconds; training cells run short (COURSE_QUICK) while grading.
c.ExecutePreprocessor.timeout = 120
import os  # noqa: E402
os.environ["COURSE_QUICK"] = "1"
# A class is graded safely by scripts/grade_class.py (sandboxed, parallel); autograde runs
# student code with your rights.
# Without this, about one autograde run in three stalls on a lost kernel message until the
# cell timeout (see course_tools/kernel_polling.py).
from course_tools.kernel_polling import poll_in_slices  # noqa: E402
poll_in_slices()
'''
# nbgrader_config.py files written before kernel_polling moved out of course_utils.
OLD_IMPORT, NEW_IMPORT = "course_utils.kernel_polling", "course_tools.kernel_polling"


def make_course(target):
    target = Path(target).expanduser().resolve()
    for solution in sorted((ROOT / "solutions").glob("*.ipynb")):
        assignment = target / "source" / solution.stem
        assignment.mkdir(parents=True, exist_ok=True)
        shutil.copy(solution, assignment / solution.name)
    config = target / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG)
    elif OLD_IMPORT in (text := config.read_text()):
        config.write_text(text.replace(OLD_IMPORT, NEW_IMPORT))
    return target


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="folder for the nbgrader course (created if missing)")
    print(f"nbgrader course ready in {make_course(parser.parse_args().target)}")


if __name__ == "__main__":
    main()
