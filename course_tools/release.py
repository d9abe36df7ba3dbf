"""Generate the student notebooks in notebooks/ from the solutions in solutions/.

    python scripts/release.py            # (re)write notebooks/NN_slug.ipynb
    python scripts/release.py --check    # exit 1 if notebooks/ is out of date

It runs nbgrader's own preprocessors, in the order `nbgrader generate_assignment`
uses (without the gradebook database): lock cells, replace the code between
BEGIN/END SOLUTION with a stub, clear outputs, compute checksums, remove the
hidden tests. Then it removes what only the test tools need from cells that nbgrader does
not manage: a leading `# NBVAL_IGNORE_OUTPUT` marker and the comment lines that give its
reason (nbval reads them in solutions/; students have no use for them). Never edit
notebooks/ by hand.
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


NBVAL_MARKER = "# NBVAL_IGNORE_OUTPUT"


def without_test_markers(source):
    """A cell's source without a leading nbval marker and the comment lines that follow it."""
    lines = source.split("\n")
    if not lines or lines[0].strip() != NBVAL_MARKER:
        return source
    rest = lines[1:]
    while rest and rest[0].lstrip().startswith("#") and not rest[0].lstrip().startswith("#%"):
        rest = rest[1:]
    return "\n".join(rest)


def strip_test_markers(notebook):
    """Remove nbval markers from the code cells nbgrader does not manage (in place)."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader"):
            cell.source = without_test_markers(cell.source)
    return notebook


def student_version(solution):
    """The student notebook (a new NotebookNode) generated from a solution notebook."""
    notebook, resources = copy.deepcopy(solution), {}
    for preprocessor in PIPELINE:
        notebook, resources = preprocessor().preprocess(notebook, resources)
    notebook.metadata.pop("jupytext", None)  # the student copy is not paired with a script
    return strip_test_markers(notebook)


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
