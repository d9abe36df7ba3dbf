"""Rebuild a lesson from its py:percent source: sync, execute, release.

    python scripts/build_lesson.py solutions/01_convolution.py

1. jupytext writes the paired solutions/NN_slug.ipynb from the .py file
   (or the .py from the .ipynb, whichever you edited last: `--from ipynb`);
2. the notebook is executed top to bottom in a fresh kernel, in full mode
   (COURSE_QUICK is unset), and saved with its outputs;
3. the header's "**Time.**" paragraph is recomputed (course_tools.lesson_time) with the
   execution's measured minutes, and each stored widget output gets a static image of its
   initial figure (course_tools.widget_snapshots);
4. scripts/release.py regenerates notebooks/NN_slug.ipynb.
"""

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from course_tools.kernel_polling import poll_in_slices
from course_tools.lesson_time import with_time_paragraph
from course_tools.widget_snapshots import add_static_images

ROOT = Path(__file__).resolve().parent.parent


def sync(py_path, ipynb_path, source):
    if source == "py":
        notebook = jupytext.read(py_path)
        if ipynb_path.exists():  # keep the outputs jupytext would otherwise drop
            notebook = jupytext.combine.combine_inputs_with_outputs(
                notebook, nbformat.read(ipynb_path, as_version=4))
        jupytext.write(notebook, ipynb_path)
    else:
        jupytext.write(nbformat.read(ipynb_path, as_version=4), py_path, fmt="py:percent")


def execute(ipynb_path, timeout):
    notebook = nbformat.read(ipynb_path, as_version=4)
    notebook.metadata.pop("widgets", None)  # the run stores the state of the widgets it makes
    os.environ.pop("COURSE_QUICK", None)
    poll_in_slices()
    start = time.monotonic()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(ipynb_path.parent)}}).execute()
    run_minutes = math.ceil((time.monotonic() - start) / 60)
    if any(cell.cell_type == "markdown" and "**Time.**" in cell.source for cell in notebook.cells):
        with_time_paragraph(notebook, run_minutes)
    add_static_images(notebook)
    nbformat.write(notebook, ipynb_path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lesson", help="solutions/NN_slug.py or .ipynb")
    parser.add_argument("--from", dest="source", choices=["py", "ipynb"], default="py")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--no-execute", action="store_true")
    args = parser.parse_args()
    stem = ROOT / "solutions" / Path(args.lesson).stem
    py_path, ipynb_path = stem.with_suffix(".py"), stem.with_suffix(".ipynb")
    sync(py_path, ipynb_path, args.source)
    if not args.no_execute:
        execute(ipynb_path, args.timeout)
    sync(py_path, ipynb_path, "ipynb")  # normalise the .py (jupytext header, cell markers)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "release.py"), str(ipynb_path)], check=True)


if __name__ == "__main__":
    main()
