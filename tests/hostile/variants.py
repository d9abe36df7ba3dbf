"""A class of lesson 01 submissions, honest, careless and hostile, made from the released
notebook by editing its cells: for tests/test_grading_hostile.py and benchmarks/grading.py.

``EXPECTED[kind]`` is (points out of 8, words that must appear in the student's problems or
messages). The attacks on files are wired to their grade: a submission that tries to read
the instructor's files or write the gradebook answers correctly only if every attempt
failed, so 8/8 proves the sandbox held and a lower score reveals a leak.
"""

import copy
from pathlib import Path

import nbformat

from course_tools.release import student_version

ROOT = Path(__file__).resolve().parent.parent.parent
LESSON = "01_convolution"
SOLUTION = ROOT / "solutions" / f"{LESSON}.ipynb"
EXERCISES = ("conv2d_single", "conv_output_size", "conv_as_matrix")

WRONG = {  # plausible wrong answers with the right types and shapes
    "conv2d_single": "def conv2d_single(image, kernel):\n"
                     "    (_, H, W), (_, kh, kw) = image.shape, kernel.shape\n"
                     "    return np.zeros((H - kh + 1, W - kw + 1))\n",
    "conv_output_size": "def conv_output_size(n, kernel_size, padding, stride):\n"
                        "    return AlwaysEqual(0)\n",
    "conv_as_matrix": "def conv_as_matrix(kernel, input_shape):\n"
                      "    H, W = input_shape\n    kh, kw = kernel.shape\n"
                      "    return np.zeros(((H - kh + 1) * (W - kw + 1), H * W))\n",
}

ALWAYS_EQUAL = """
class AlwaysEqual(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__
"""

MONKEYPATCH = """
import builtins, numpy, course_utils.checks as checks
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(a, b).shape, bool)
numpy.array_equal = lambda *a, **k: True
for name in dir(checks):
    if name.startswith("check_"):
        globals()[name] = lambda fn: print("✓ passed")
        setattr(checks, name, globals()[name])
builtins.AssertionError = type("Harmless", (Exception,), {})
"""

INPUT_TRANSFORMER = """
get_ipython().input_transformers_cleanup.append(
    lambda lines: [line for line in lines if not line.startswith(("check_", "assert"))])
"""

SNOOP = f"""
import glob, os
LEAKED = []
for pattern in ["{ROOT}/solutions/*.ipynb", "{ROOT}/**/gradebook.db", "/tmp/**/gradebook.db",
                "/tmp/**/source/**/*.ipynb", "/tmp/**/submitted/**/*.ipynb", "/root/*", "/home/*/*"]:
    for path in glob.glob(pattern, recursive=True):
        try:
            with open(path, "rb") as f:
                LEAKED.append((path, f.read(100)))
        except OSError:
            pass
"""

VANDAL = f"""
import glob, os, sqlite3
VANDALISED = []
for path in glob.glob("/tmp/**/gradebook.db", recursive=True) + glob.glob("{ROOT}/**/*.db", recursive=True):
    try:
        db = sqlite3.connect(path)
        db.execute("UPDATE grade SET auto_score = 99")
        db.commit()
        VANDALISED.append(path)
    except Exception:
        pass
for path in glob.glob("/tmp/**/results/*.json", recursive=True):
    try:
        with open(path, "w") as f:
            f.write("{{}}")
        VANDALISED.append(path)
    except OSError:
        pass
"""

# Points out of 8 and words expected in the student's problems/messages.
EXPECTED = {
    "honest": (8, []),
    "blank": (0, ["not implemented"]),
    "endless_loop": (5, ["conv2d_single_tests timeout"]),
    "crash_after_points": (5, ["conv_as_matrix_tests stopped", "segmentation fault"]),
    "exit_after_points": (5, ["conv_as_matrix_tests stopped", "exit()"]),
    "edited_locked_cells": (0, []),
    "deleted_cells": (5, ["conv_as_matrix is not defined", "was deleted"]),
    "monkeypatched": (0, []),
    "input_transformer": (0, ["not implemented"]),
    "calls_reference": (0, ["reference"]),
    "reads_instructor_files": (8, []),
    "writes_gradebook": (8, []),
    "memory_hog": (5, ["conv2d_single"]),
    "invalid_json": (0, ["not valid JSON"]),
    "huge_output": (8, ["printed"]),
    "stderr_output": (8, []),
    "renamed_notebook": (8, ["renamed"]),
    "no_notebook": (0, ["no notebook"]),
}


def released():
    """The student notebook of lesson 01, as the release tool makes it."""
    return student_version(nbformat.read(SOLUTION, as_version=4))


def _solutions():
    solution = nbformat.read(SOLUTION, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _index(notebook, grade_id):
    return next(i for i, c in enumerate(notebook.cells) if _grade_id(c) == grade_id)


def _set(notebook, grade_id, source):
    notebook.cells[_index(notebook, grade_id)].source = source


def _insert_after(notebook, grade_id, source):
    notebook.cells.insert(_index(notebook, grade_id) + 1, nbformat.v4.new_code_cell(source))


def _insert_first(notebook, source):
    first = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    notebook.cells.insert(first + 1, nbformat.v4.new_code_cell(source))


def honest():
    notebook = released()
    for grade_id, source in _solutions().items():
        _set(notebook, grade_id, source)
    return notebook


def _wrong(notebook):
    _insert_first(notebook, ALWAYS_EQUAL)
    for name, source in WRONG.items():
        _set(notebook, name, source)
    return notebook


def _guarded(notebook, condition):
    """Honest answers only while ``condition`` (Python) holds, wrong ones otherwise."""
    for name in EXERCISES:
        cell = notebook.cells[_index(notebook, name)]
        wrong = WRONG[name].replace(f"def {name}(", f"def _wrong_{name}(")
        cell.source += (f"\n\n{wrong}\n_honest_{name} = {name}\n"
                        f"{name} = lambda *a: _honest_{name}(*a) if {condition} else _wrong_{name}(*a)\n")
    return notebook


def build(kind):
    """The submission of one kind: a notebook, or bytes for a file that is not one."""
    if kind == "honest" or kind == "renamed_notebook":
        return honest()
    if kind == "blank":
        return released()
    notebook = honest()
    if kind == "endless_loop":
        _set(notebook, "conv2d_single", "def conv2d_single(image, kernel):\n    while True:\n        pass\n")
    elif kind == "crash_after_points":
        _insert_after(notebook, "conv_output_size_tests", "import ctypes\nctypes.string_at(0)  # segfault")
    elif kind == "exit_after_points":
        _insert_after(notebook, "conv_output_size_tests", "import sys\nexit()\nsys.exit(1)")
    elif kind == "edited_locked_cells":
        notebook = released()
        for grade_id in ("conv2d_single_tests", "conv_output_size_tests", "conv_as_matrix_tests"):
            _set(notebook, grade_id, "print('all tests passed')")
    elif kind == "deleted_cells":
        for grade_id in ("conv2d_single_tests", "conv_output_size_tests", "conv_as_matrix_tests",
                         "conv_as_matrix"):
            del notebook.cells[_index(notebook, grade_id)]
    elif kind == "monkeypatched":
        notebook = _wrong(released())
        _insert_first(notebook, MONKEYPATCH)
    elif kind == "input_transformer":
        notebook = released()
        _insert_first(notebook, INPUT_TRANSFORMER)
    elif kind == "calls_reference":
        notebook = released()
        _set(notebook, "conv2d_single", "def conv2d_single(image, kernel):\n"
                                        "    return ref.conv2d(image[None], kernel[None])[0, 0]\n")
        _set(notebook, "conv_output_size", "def conv_output_size(n, k, p, s):\n"
                                           "    return ref.output_size(n, k, p, s)\n")
        _set(notebook, "conv_as_matrix", "conv_as_matrix = ref.conv_matrix\n")
    elif kind == "reads_instructor_files":
        _insert_first(notebook, SNOOP)
        _guarded(notebook, "not LEAKED")
    elif kind == "writes_gradebook":
        _insert_first(notebook, VANDAL)
        _guarded(notebook, "not VANDALISED")
    elif kind == "memory_hog":
        _set(notebook, "conv2d_single", "def conv2d_single(image, kernel):\n"
                                        "    return np.ones((40_000, 40_000))\n")
    elif kind == "huge_output":
        _insert_first(notebook, "print('x' * 50_000_000)")
        cell = notebook.cells[_index(notebook, "conv2d_single")]
        cell.source = cell.source.replace("    C, H, W = image.shape",
                                          "    print('y' * 100_000)\n    C, H, W = image.shape")
    elif kind == "stderr_output":
        _insert_first(notebook, "import sys, warnings\n"
                                "print('a warning', file=sys.stderr)\nwarnings.warn('careful')")
        cell = notebook.cells[_index(notebook, "conv2d_single")]
        cell.source = cell.source.replace("    C, H, W = image.shape",
                                          "    print('debug', file=sys.stderr)\n    C, H, W = image.shape")
    else:
        raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(EXPECTED)}")
    return notebook


def write_submission(folder, student, kind):
    """Write ``kind``'s submission for ``student`` into ``folder`` (nbgrader's submitted/ layout)."""
    place = Path(folder) / student / LESSON
    place.mkdir(parents=True, exist_ok=True)
    if kind == "no_notebook":
        (place / "notes.txt").write_text("I could not finish, sorry")
    elif kind == "invalid_json":
        (place / f"{LESSON}.ipynb").write_text('{"cells": [ {"cell_type": "code", "source": "x = 1"')
    else:
        name = "my_lesson_copy.ipynb" if kind == "renamed_notebook" else f"{LESSON}.ipynb"
        nbformat.write(copy.deepcopy(build(kind)), place / name)
    return place
