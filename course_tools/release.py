"""Generate the student notebooks in notebooks/ from the solutions in solutions/.

    python scripts/release.py            # (re)write notebooks/NN_slug.ipynb
    python scripts/release.py --check    # exit 1 if notebooks/ is out of date

It runs nbgrader's own preprocessors, in the order `nbgrader generate_assignment`
uses (without the gradebook database): lock cells, replace the code between
BEGIN/END SOLUTION with a stub, clear outputs, compute checksums, remove the
hidden tests. Never edit notebooks/ by hand.
"""

import argparse
import copy
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = [LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums,
            ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata]


def student_version(solution):
    """The student notebook (a new NotebookNode) generated from a solution notebook."""
    notebook, resources = copy.deepcopy(solution), {}
    for preprocessor in PIPELINE:
        notebook, resources = preprocessor().preprocess(notebook, resources)
    notebook.metadata.pop("jupytext", None)  # the student copy is not paired with a script
    return notebook


def released_text(solution_path):
    notebook = student_version(nbformat.read(solution_path, as_version=4))
    return nbformat.writes(notebook) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale student notebooks")
    parser.add_argument("lessons", nargs="*", help="solution notebooks (default: all)")
    args = parser.parse_args(argv)
    solutions = [Path(p) for p in args.lessons] or sorted((ROOT / "solutions").glob("*.ipynb"))
    stale = []
    for solution in solutions:
        target = ROOT / "notebooks" / solution.name
        text = released_text(solution)
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(target)
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}")
    for target in stale:
        print(f"{target.relative_to(ROOT)} is out of date: run `python scripts/release.py`",
              file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
