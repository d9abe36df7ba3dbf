"""Grading a class of honest, careless and hostile lesson 01 submissions (tests/hostile/).

One nbgrader course, one submission of each kind, graded by `course_tools.grading_class` in
sandboxes with two judges: each kind gets its expected points and words, the gradebook and
`nbgrader export` get the judge's scores, an interrupted run resumes, and the plain-data
protocol turns lying values into ones that compare honestly."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from course_tools.grading_class import (
    grade_class,
    main,
    problems,
    read_results,
    write_gradebook,
    write_reports,
)
from course_tools.grading_course import make_course
from course_tools.grading_judge import Settings, plan_steps
from course_tools.grading_lesson import REFERENCES, context_cells, read_lesson
from course_tools.grading_protocol import (
    ProtocolError,
    Unsupported,
    apply_states,
    decode_value,
    encode_states,
    encode_value,
)
from course_tools.grading_sandbox import sandbox_mode
from course_tools.grading_submissions import SubmissionProblem, load_notebook, locate_notebook
from tests.hostile.variants import EXPECTED, LESSON, ROOT, SOLUTION, build, write_submission

SETTINGS = Settings(call_timeout=3, exercise_timeout=60, cell_timeout=30, notebook_timeout=300)
needs_sandbox = pytest.mark.skipif(sandbox_mode() != "bwrap",
                                   reason="bubblewrap cannot run here (apt-get install bubblewrap)")


def nbgrader(course, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(course, out, results): every kind submitted and graded, reports and gradebook written."""
    course = make_course(tmp_path_factory.mktemp("course"))
    nbgrader(course, "generate_assignment", LESSON, "--create")
    for kind in EXPECTED:
        write_submission(course / "submitted", kind, kind)
    source, out = course / "source" / LESSON / f"{LESSON}.ipynb", course / "graded" / LESSON
    results = grade_class(source, course / "submitted", out, workers=2, settings=SETTINGS,
                          progress=lambda line: None)
    lesson = read_lesson(source)
    write_reports(results, lesson, out)
    write_gradebook(results, lesson, course)
    return course, out, results


def _words(record):
    return " ".join(problems(record) + [e["message"] for e in record.get("exercises", [])])


@pytest.mark.slow
@needs_sandbox
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_submission_gets_its_grade_and_explanation(graded, kind):
    record = graded[2][kind]
    points, words = EXPECTED[kind]
    assert record["points"] == points, _words(record)
    for word in words:
        assert word in _words(record)


@pytest.mark.slow
@needs_sandbox
def test_summary_names_every_student_with_a_problem_and_no_honest_one(graded):
    lines = (graded[1] / "summary.txt").read_text().splitlines()
    named = {line.split(":")[0] for line in lines[1:]}
    assert {"invalid_json", "no_notebook", "renamed_notebook", "endless_loop", "crash_after_points",
            "calls_reference", "deleted_cells", "huge_output"} <= named
    assert not {"honest", "stderr_output", "reads_instructor_files", "writes_gradebook"} & named


@pytest.mark.slow
@needs_sandbox
def test_gradebook_and_nbgrader_export_hold_the_judges_scores(graded):
    course, out, results = graded
    nbgrader(course, "export")
    exported = {}
    for line in (course / "grades.csv").read_text().splitlines()[1:]:
        fields = line.split(",")
        exported[fields[3]] = float(fields[-2])  # assignment,duedate,timestamp,student_id,...,score,max_score
    assert exported == {kind: float(EXPECTED[kind][0]) for kind in EXPECTED}
    csv_total = {line.split(",")[0]: float(line.split(",")[4]) for line in
                 (out / "grades.csv").read_text().splitlines()[1:]}
    assert csv_total == exported


@pytest.mark.slow
@needs_sandbox
def test_interrupted_run_resumes_and_regrades_half_done_students(graded):
    course, out, results = graded
    (out / "results" / "honest.json").unlink()  # stopped before it was written
    (out / "results" / "blank.json").write_text('{"student": "bla')  # an older, broken write
    (out / "results" / ".stderr_output.json.xyz.part").write_text("{")  # a temp file left behind
    graded_again = []
    after = grade_class(course / "source" / LESSON / f"{LESSON}.ipynb", course / "submitted", out,
                        workers=2, settings=SETTINGS, progress=graded_again.append)
    assert sorted(line.split(":")[0] for line in graded_again[1:]) == ["blank", "honest"]
    assert {s: r["points"] for s, r in after.items()} == {s: r["points"] for s, r in results.items()}
    assert read_results(out).keys() == results.keys()


# --- The plain-data protocol (fast) ----------------------------------------------------------

class LyingInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), bool)


def roundtrip(value):
    blobs = []
    description = json.loads(json.dumps(encode_value(value, blobs)))
    return decode_value(description, blobs)


def test_values_come_back_as_plain_data_with_their_true_contents():
    assert type(roundtrip(LyingInt(3))) is int and roundtrip(LyingInt(3)) != 4
    array = np.arange(6.0).reshape(2, 3).view(LyingArray)
    back = roundtrip((array, [1.5, np.float32(2)], None, True))
    assert type(back[0]) is np.ndarray and not np.array_equal(back[0], np.zeros((2, 3)))
    assert back[1][0] == 1.5 and type(back[1][1]) is np.float32 and back[2] is None and back[3] is True
    tensor = roundtrip(torch.ones(2, requires_grad=True))
    assert type(tensor) is torch.Tensor and not tensor.requires_grad and torch.equal(tensor, torch.ones(2))


def test_anything_else_is_unsupported_and_no_check_accepts_it():
    from course_utils.checks.harness import ARRAY, CheckFailed, Number
    for value in (object(), np.array([object()]), {"a": 1}, lambda: 1):
        back = roundtrip(value)
        assert isinstance(back, Unsupported)
        with pytest.raises(CheckFailed):
            ARRAY.read(back, "f")
        with pytest.raises(CheckFailed):
            Number().read(back, "f")


def test_a_model_of_standard_layers_is_rebuilt_in_the_judge_with_its_weights():
    block = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(inplace=True),
                                torch.nn.BatchNorm2d(4), torch.nn.MaxPool2d(2)).eval()
    back = roundtrip(block)
    x = torch.randn(2, 3, 6, 6)
    assert type(back) is torch.nn.Sequential and not back.training and torch.equal(back(x), block(x))


def test_a_model_with_a_layer_of_its_own_or_a_patched_forward_is_unsupported():
    class Cheat(torch.nn.Module):
        def forward(self, x):
            return x

    patched = torch.nn.Sequential(torch.nn.ReLU())
    patched[0].forward = lambda x: x
    assert isinstance(roundtrip(torch.nn.Sequential(Cheat())), Unsupported)
    assert isinstance(roundtrip(patched), Unsupported)


def test_a_training_step_changes_the_judges_model_and_optimizer_as_in_place():
    import pickle
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    there_model, there_optimizer = pickle.loads(pickle.dumps((model, optimizer)))  # the sandbox's copies
    there_model(torch.randn(4, 3)).sum().backward()
    there_optimizer.step()
    blobs = []
    states = json.loads(json.dumps(encode_states((there_model, there_optimizer, 5), blobs)))
    apply_states(states, (model, optimizer, 5), blobs)
    assert torch.equal(model.weight, there_model.weight) and optimizer.state_dict()["state"]
    with pytest.raises(ProtocolError):
        apply_states(states, (optimizer, model, 5), blobs)


@pytest.mark.parametrize("description", [{"t": "int", "v": "3"}, {"t": "ndarray", "blob": 5}, {"t": "eval"},
                                         {"t": "tuple", "v": 3}, [], {"t": "bool", "v": 1}])
def test_malformed_replies_are_protocol_errors(description):
    with pytest.raises(ProtocolError):
        decode_value(description, [])


def test_pickled_arrays_are_refused():
    import io
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()]), allow_pickle=True)
    with pytest.raises(ProtocolError):
        decode_value({"t": "ndarray", "blob": 0}, [buffer.getvalue()])


# --- Reading submissions and planning (fast) ------------------------------------------------

@pytest.fixture(scope="module")
def lesson():
    return read_lesson(SOLUTION)


def test_the_plan_judges_graded_cells_from_the_source_wherever_the_student_left_them(lesson):
    notebook = build("deleted_cells")
    notebook.cells.append(nbformat.v4.new_code_cell("check_output_size(conv_output_size)"))
    notebook.cells[-1].metadata["nbgrader"] = {"grade": True, "grade_id": "my_own_tests", "points": 99}
    steps, notes = plan_steps(lesson, notebook)
    exercises = [step[1] for step in steps if step[0] == "exercise"]
    assert exercises == ["conv2d_single_tests", "conv_output_size_tests", "conv_as_matrix_tests"]
    assert not any(step[0] == "cell" and step[2].startswith("check_") for step in steps)
    assert any("my_own_tests" in note for note in notes) and any("were deleted" in note for note in notes)
    solution_cell = next(i for i, step in enumerate(steps)
                         if step[0] == "cell" and "def conv2d_single" in step[2])
    assert steps[solution_cell + 1][:2] == ("exercise", "conv2d_single_tests")


def test_the_lesson_blocks_its_reference_module_and_knows_its_points(lesson):
    assert {"course_utils.convolution", "course_utils.checks.convolution"} <= set(lesson.references)
    assert lesson.max_points == 8
    assert [e.functions for e in lesson.exercises] == [("conv2d_single",), ("conv_output_size",),
                                                       ("conv_as_matrix",)]


def test_every_lesson_names_its_references_and_each_one_exists():
    lessons = {path.stem for path in (ROOT / "solutions").glob("*.ipynb")}
    assert set(REFERENCES) == lessons, "a lesson without an entry in REFERENCES is graded unblocked"
    for name in (name for names in REFERENCES.values() for name in names):
        module, _, attribute = name.rpartition(".")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), attribute), name


def test_the_judge_runs_only_the_instructor_cells_a_hidden_test_needs():
    plain = ["x = load()", "data = 1\nfigure(data)", "test_x = data + 1", "test_x = 5  # a later rebinding"]
    tests = ["check(f)\n_y = f(test_x)\nassert _y == test_x + 1"]
    assert context_cells(plain, tests, known={"load", "figure", "check", "f"}) == ("data = 1\nfigure(data)",
                                                                                 "test_x = data + 1")
    assert context_cells(plain, ["check(f)"], known={"check", "f"}) == ()


@pytest.mark.parametrize("kind, words", [("invalid_json", "not valid JSON"), ("no_notebook", "no notebook")])
def test_unreadable_submissions_are_explained(tmp_path, kind, words):
    folder = write_submission(tmp_path, "student", kind).parent
    with pytest.raises(SubmissionProblem, match=words):
        load_notebook(locate_notebook(folder, LESSON)[0])


def test_a_renamed_notebook_is_found_with_a_note_and_two_are_refused(tmp_path):
    folder = write_submission(tmp_path, "student", "renamed_notebook").parent
    path, notes = locate_notebook(folder, LESSON)
    assert path.name == "my_lesson_copy.ipynb" and "renamed" in notes[0]
    (path.parent / "another.ipynb").write_text("{}")
    with pytest.raises(SubmissionProblem, match="2 notebooks"):
        locate_notebook(folder, LESSON)
    (path.parent / "another.ipynb").write_text('{"cells": 3}')
    with pytest.raises(SubmissionProblem, match="not a notebook"):
        load_notebook(path.parent / "another.ipynb")


@pytest.mark.slow
def test_the_command_grades_a_folder_and_writes_its_reports(tmp_path, capsys):
    for kind in ("invalid_json", "no_notebook"):  # no sandbox needed: nothing runs
        write_submission(tmp_path / "submitted", kind, kind)
    main([LESSON, str(tmp_path / "submitted"), "--workers", "1"])
    out = tmp_path / f"graded-{LESSON}"
    summary = (out / "summary.txt").read_text()
    assert "invalid_json: 0/8" in summary and "no_notebook: 0/8" in summary
    assert (out / "feedback" / "no_notebook" / LESSON / f"{LESSON}.html").is_file()
    assert "2 student(s)" in capsys.readouterr().out
