"""What the judge needs to know about a lesson, read from the instructor's source notebook.

A lesson's exercises are its graded cells (nbgrader metadata ``"grade": true``): each has a
grade_id, points, and a source that calls the instant check and then the hidden tests. The
functions a graded cell tests are those the solution cell before it defines. The judge runs
that source itself, with the lesson's first code cell (its imports) as its namespace, plus
the few instructor cells that define what a hidden test uses besides (:func:`context_cells`).

The references blocked while a student's function runs (names of modules, meaning all
their functions, or of single functions): the lesson's entry in ``REFERENCES`` (the reference
implementations of its exercises, chosen by hand so that the helpers a lesson teaches, such
as ``evaluate`` or ``shift_image``, stay usable) and every check module its graded cells call
(``course_utils.checks.convolution``...: their ``reference_*`` functions solve the exercises).
"""

import ast
import builtins
import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import nbformat

REFERENCES = {
    "01_convolution": ("course_utils.convolution", "course_utils.geometry.output_size"),
    "02_receptive_fields": ("course_utils.receptive_field",),
    "03_pooling": ("course_utils.pooling",),
    "04_backprop": ("course_utils.numpy_cnn.conv", "course_utils.numpy_cnn.pool",
                    "course_utils.numpy_cnn.loss"),
    "05_training": ("course_utils.evaluation.accuracy_under_shift",),
    "06_classic_architectures": ("course_utils.architectures.cost.count_macs",
                                 "course_utils.architectures.vgg"),
    "07_resnet": (),
    "08_what_cnns_learn": ("course_utils.interpret.saliency", "course_utils.interpret.occlusion",
                           "course_utils.interpret.grad_cam"),
    "09_feature_visualization": ("course_utils.interpret.regularizers", "course_utils.interpret.fooling",
                                 "course_utils.interpret.dissection"),
    "10_fast_training": ("course_utils.training.time_to_accuracy", "course_utils.spread"),
}

__all__ = ["REFERENCES", "Exercise", "Lesson", "read_lesson", "without_magics", "blocked_references",
           "context_cells"]


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
    """A lesson as the judge sees it: name, the imports cell, exercises, blocked references,
    and the instructor's cells that define what the graded cells need besides the imports."""

    name: str
    setup_source: str
    exercises: tuple
    references: tuple
    context: tuple = ()

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


def blocked_references(lesson_name, test_sources, namespace):
    """The references to block for a lesson (tuple of module or function names)."""
    checks = set()
    for source in test_sources:
        for name in _called_names(source):
            module = getattr(namespace.get(name), "__module__", "") or ""
            if module.startswith("course_utils.checks"):
                checks.add(module)
    return tuple(sorted(set(REFERENCES.get(lesson_name, ())) | checks))


MAX_CONTEXT_CELLS = 5


def _names(source):
    """(names read, names bound) by a cell's code; both empty if it does not parse."""
    try:
        tree = ast.parse(without_magics(source))
    except SyntaxError:
        return set(), set()
    read, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return read, bound


def context_cells(plain_sources, test_sources, known):
    """The instructor's plain cells (sources, in notebook order) that define what the graded
    cells read but neither bind nor import (lesson 05's ``test_x``), with what those read in
    turn; () if none, or if more than MAX_CONTEXT_CELLS would be needed."""
    parsed = [(source, *_names(source)) for source in plain_sources]
    wanted = set()
    for source in test_sources:
        read, bound = _names(source)
        wanted |= read - bound
    wanted -= known
    chosen, provided = set(), set()
    while wanted:
        name = wanted.pop()
        index = next((i for i, (_, _, bound) in enumerate(parsed) if name in bound), None)
        if index is None or index in chosen:
            continue
        chosen.add(index)
        if len(chosen) > MAX_CONTEXT_CELLS:
            return ()
        _, read, bound = parsed[index]
        provided |= bound
        wanted |= read - bound - known - provided
    return tuple(parsed[i][0] for i in sorted(chosen))


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
    tests = [e.test_source for e in exercises]
    references = blocked_references(name, tests, namespace)
    functions = {function for exercise in exercises for function in exercise.functions}
    plain = [cell.source for cell in code[1:]
             if not _nbgrader(cell).get("grade") and not _nbgrader(cell).get("solution")]
    context = context_cells(plain, tests, set(namespace) | set(dir(builtins)) | functions)
    return Lesson(name, setup, tuple(exercises), references, context)
