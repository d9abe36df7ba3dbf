"""Are the lesson sources in sync? solutions/NN_slug.py (jupytext py:percent) against its .ipynb.

    python -m course_tools.notebook_pairs        # exit 1 and name each pair that differs

The .py file is the reviewable source; the .ipynb holds the same cells plus the stored outputs.
Both are rebuilt by `python scripts/build_lesson.py solutions/NN_slug.py`.
"""

import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent


def cell_key(cell):
    """What must agree between the two files: type, source, nbgrader metadata and tags."""
    return (cell.cell_type, cell.source, cell.metadata.get("nbgrader", {}),
            cell.metadata.get("tags"))


def pair_difference(solution):
    """None when solution (.ipynb) and its .py pair agree, else a sentence saying how they differ."""
    script = Path(solution).with_suffix(".py")
    if not script.exists():
        return f"{script.name} is missing: run `jupytext --sync {Path(solution).name}`"
    from_script = [cell_key(c) for c in jupytext.read(script).cells]
    from_notebook = [cell_key(c) for c in nbformat.read(solution, as_version=4).cells]
    for index, (a, b) in enumerate(zip(from_script, from_notebook)):
        if a != b:
            return (f"{Path(solution).name} and {script.name} differ at cell {index}: "
                    "run scripts/build_lesson.py (or jupytext --sync)")
    if len(from_script) != len(from_notebook):
        return (f"{Path(solution).name} has {len(from_notebook)} cells, {script.name} "
                f"{len(from_script)}: run scripts/build_lesson.py (or jupytext --sync)")
    return None


def main():
    problems = [p for s in sorted((ROOT / "solutions").glob("*.ipynb")) if (p := pair_difference(s))]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
