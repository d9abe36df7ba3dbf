"""What the judge needs to know about a lesson, read from the instructor's source notebook.

A lesson's exercises are its graded cells (nbgrader metadata ``"grade": true``): each has a
grade_id, points, and a source that calls the instant check and then the hidden tests. The
functions a graded cell tests are those the solution cell before it defines. The judge runs
that source itself, with the lesson's first code cell (its imports) as its namespace.

The reference modules blocked while a student's function runs are the ``course_utils``
modules (outside ``course_utils.checks``) that the lesson's check functions or hidden tests
import from (for lesson 01, ``course_utils.convolution`` and ``course_utils.geometry``), plus,
where the checks compare with PyTorch instead, the modules in ``SOLVING_MODULES``.
"""

import ast
import contextlib
import inspect
import io
from dataclasses import dataclass
from pathlib import Path

import nbformat

# Reference implementations that no check imports (the checks compare with PyTorch).
SOLVING_MODULES = {"04_backprop": ("course_utils.numpy_cnn.conv", "course_utils.numpy_cnn.pool",
                                   "course_utils.numpy_cnn.loss")}

__all__ = ["SOLVING_MODULES", "Exercise", "Lesson", "read_lesson", "without_magics", "reference_modules"]


@dataclass(frozen=True)
class Exercise:
    """One graded cell: grade_id (of the graded cell), the solution cell's grade_id, the
    functions it tests, its points, and its source (visible check and hidden tests)."""

    grade_id: str
    solution_id: str
    functions: tuple
    points: float
    test_source: str


@dataclass(frozen=True)
class Lesson:
    """A lesson as the judge sees it: name, the imports cell, exercises, blocked modules."""

    name: str
    setup_source: str
    exercises: tuple
    references: tuple

    @property
    def max_points(self):
        return sum(exercise.points for exercise in self.exercises)


def without_magics(source):
    """A cell's Python without IPython magics and shell lines (``%...``, ``!...``)."""
    return "\n".join(line for line in source.split("\n") if not line.lstrip().startswith(("%", "!")))


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _defined_functions(source):
    try:
        tree = ast.parse(without_magics(source))
    except SyntaxError:
        return ()
    return tuple(node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef)))


def _imported_course_modules(source):
    """course_utils modules a cell imports names from (``from course_utils.x import y``)."""
    tree = ast.parse(without_magics(source))
    return {node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils.")}


def reference_modules(test_sources, namespace):
    """The course_utils modules whose functions solve the exercises (tuple of names)."""
    modules = set()
    for source in test_sources:
        modules |= _imported_course_modules(source)
        for name in _called_names(source):
            check = namespace.get(name)
            if callable(check) and (getattr(check, "__module__", "") or "").startswith("course_utils.checks"):
                module = inspect.getmodule(check)
                modules |= {getattr(value, "__module__", "") for value in vars(module).values()
                            if inspect.isfunction(value)}
    return tuple(sorted(m for m in modules
                        if m.startswith("course_utils.") and not m.startswith("course_utils.checks")))


def _called_names(source):
    tree = ast.parse(without_magics(source))
    return {node.func.id for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


def read_lesson(source_path, namespace=None):
    """The Lesson of an instructor's source notebook (with hidden tests). ``namespace``: the
    imports cell already run, to find the check functions' modules (run here if None)."""
    notebook = nbformat.read(source_path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code:
        raise ValueError(f"{source_path} has no code cell: it is not a lesson notebook")
    exercises, functions, solution_id = [], (), None
    for cell in code:
        meta = _nbgrader(cell)
        if meta.get("solution") and not meta.get("grade"):
            functions, solution_id = _defined_functions(cell.source), meta.get("grade_id")
        if meta.get("grade") and cell is not code[0]:
            exercises.append(Exercise(meta["grade_id"], solution_id or "", functions,
                                      float(meta.get("points", 0)), cell.source))
    if not exercises:
        raise ValueError(f"{source_path} has no graded cell (nbgrader \"grade\": true): "
                         "grade with the instructor's source notebook, not the student's copy")
    setup = without_magics(code[0].source)
    if namespace is None:
        namespace = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(setup, f"{source_path}:imports", "exec"), namespace)
    name = Path(source_path).stem
    references = reference_modules([e.test_source for e in exercises], namespace)
    references = tuple(sorted(set(references) | set(SOLVING_MODULES.get(name, ()))))
    return Lesson(name, setup, tuple(exercises), references)
