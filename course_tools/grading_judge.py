"""Grade one submission: the student's cells run in a sandbox, the graded tests in the judge.

The judge never runs a student's line. A sandboxed worker (:mod:`course_tools.grading_worker`)
runs the submission's code cells in order; where a graded cell was, it stops and answers
calls. The judge then runs the instructor's graded cell (instant check and hidden tests,
from the source notebook, not the student's copy) in its own process, with each tested
function replaced by a proxy that sends the arguments to the worker and gets back plain
data (:mod:`course_tools.grading_protocol`). So patching checks, numpy, builtins or IPython,
editing or deleting graded cells, or returning objects with a lying ``__eq__``, changes
nothing the judge compares. The random inputs of checks and hidden tests are drawn with a
per-run secret mixed into their seeds, so answers remembered for the published seeds fail.

Each exercise is graded on its own: a call that times out, a crash or an ``exit`` while an
exercise is served costs that exercise, and a fresh worker resumes the notebook for the next
ones. A crash in a plain cell stops the notebook there: exercises before it keep their points.
"""

import contextlib
import hashlib
import io
import queue
import re
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from course_tools.grading_lesson import without_magics
from course_tools.grading_protocol import (
    MessageTooLarge,
    ProtocolError,
    apply_states,
    decode_value,
    read_reply,
    send_request,
)
from course_tools.grading_sandbox import Limits, start_worker

__all__ = ["Settings", "ExerciseResult", "ExerciseStopped", "NotebookStopped", "StudentError",
           "plan_steps", "grade_notebook", "judge_namespace", "drawn_at_grading_time"]


# A call's and a cell's limits are CPU seconds, counted in the sandbox, so that a busy machine
# does not fail honest work; the judge's wall-clock backstop for a call is WALL_SLACK times
# longer (it stops what no CPU limit catches: sleeping, or catching the limit's exception).
WALL_SLACK = 3


@dataclass(frozen=True)
class Settings:
    """Limits (seconds) and sandbox options for grading one submission: a call's and a cell's
    CPU time; an exercise's and the whole notebook's wall-clock time."""

    call_timeout: float = 10.0
    exercise_timeout: float = 120.0
    cell_timeout: float = 30.0
    notebook_timeout: float = 600.0
    limits: Limits = Limits()
    quick: bool = True
    allow_unsandboxed: bool = False
    secret: str = ""


@dataclass
class ExerciseResult:
    """The judge's verdict on one graded cell; status: passed, failed, timeout, crashed,
    stopped (the notebook ended before it), judge-error (the instructor's test failed to run)."""

    grade_id: str
    points: float
    max_points: float
    status: str
    message: str
    notes: list = field(default_factory=list)


class ExerciseStopped(BaseException):
    """The worker timed out, died or broke the protocol while serving an exercise (a
    BaseException, so that no check's ``except Exception`` turns it into a wrong answer)."""


class NotebookStopped(Exception):
    """The worker ended, died or ran out of time before reaching an exercise."""


class StudentError(Exception):
    """Base of the errors a student's function raised in the sandbox (named like the original)."""


# --- The plan ---------------------------------------------------------------------------------

# A cell that only runs an instant check prints a verdict and defines nothing: not run.
INSTANT_CHECK = re.compile(r"\s*check_\w+\(\w+\)\s*\Z")


def _graded_id(cell):
    meta = cell.metadata.get("nbgrader", {}) if hasattr(cell, "metadata") else {}
    return meta.get("grade_id") if meta.get("grade") else None


def plan_steps(lesson, notebook):
    """The worker's steps for a submission: ("cell", index, source) for each of its code
    cells but graded ones, ("exercise", grade_id, functions) where each graded cell is, or,
    if the student deleted it, after its solution cell (else at the end). Returns
    (steps, notes); notes say what was moved or ignored."""
    exercises = {exercise.grade_id: exercise for exercise in lesson.exercises}
    by_solution = {exercise.solution_id: exercise for exercise in lesson.exercises}
    present = {_graded_id(c) for c in notebook.cells if c.get("cell_type") == "code"}
    steps, placed, notes = [], set(), []
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        graded = _graded_id(cell)
        if graded in exercises:
            if graded not in placed:
                steps.append(("exercise", graded, exercises[graded].functions))
                placed.add(graded)
            continue
        if graded:
            notes.append(f"cell {index}: graded cell {graded!r} is not in the lesson; ignored")
            continue
        if not INSTANT_CHECK.match(str(cell.get("source", ""))):
            steps.append(("cell", index, str(cell.get("source", ""))))
        solution_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        exercise = by_solution.get(solution_id)
        if exercise and exercise.grade_id not in present and exercise.grade_id not in placed:
            steps.append(("exercise", exercise.grade_id, exercise.functions))
            placed.add(exercise.grade_id)
            notes.append(f"graded cell {exercise.grade_id!r} was deleted; graded after its exercise cell")
    for exercise in lesson.exercises:
        if exercise.grade_id not in placed:
            steps.append(("exercise", exercise.grade_id, exercise.functions))
            notes.append(f"graded cell {exercise.grade_id!r} and its exercise cell were deleted; "
                         "graded at the end of the notebook")
    order = [e.grade_id for e in lesson.exercises]
    served = [step[1] for step in steps if step[0] == "exercise"]
    if served != order:
        notes.append(f"graded cells in another order than the lesson's: {served}")
    return steps, notes


# --- The worker, seen from the judge -----------------------------------------------------------

class WorkerSession:
    """A running worker: its replies arrive on a queue filled by a reader thread."""

    def __init__(self, steps, first_exercise, references, settings):
        self.process = start_worker(settings.limits, settings.quick, settings.allow_unsandboxed)
        self.replies, self.cell, self.printed, self.cell_errors = queue.Queue(), None, 0, []
        threading.Thread(target=self._read, daemon=True).start()
        self.send({"steps": steps, "first_exercise": first_exercise, "references": list(references),
                   "cell_timeout": settings.cell_timeout, "call_timeout": settings.call_timeout})

    def _read(self):
        try:
            while True:
                self.replies.put(read_reply(self.process.stdout))
        except (EOFError, OSError, ValueError):
            self.replies.put(("eof", None))
        except MessageTooLarge as error:
            self.replies.put(("too_large", str(error)))
        except ProtocolError as error:
            self.replies.put(("protocol", str(error)))

    def reply(self, deadline):
        """The next (header, blobs); ("eof"|"protocol"|"timeout", detail) when there is none."""
        try:
            return self.replies.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return "timeout", None

    def death(self):
        """Words for how the worker ended (after an EOF)."""
        try:
            code = self.process.wait(timeout=5)
        except Exception:  # noqa: BLE001 - still running: it closed its output on purpose
            return "closed its connection"
        if code is not None and code > 128:  # bubblewrap passes on its child's signal as 128 + n
            code = 128 - code
        signals = {-9: "was killed (SIGKILL: memory or CPU-time limit)", -11: "crashed (segmentation fault)",
                   -6: "aborted", -24: "ran out of CPU time", -25: "wrote past the file-size limit"}
        return signals.get(code, f"exited with status {code}")

    def where(self):
        return f"cell {self.cell}" if self.cell is not None else "start-up"

    def reach_exercise(self, grade_id, deadline):
        """Run cells until the worker serves ``grade_id``; its list of defined functions.
        NotebookStopped if the notebook ends, dies or runs out of time first."""
        while True:
            header, detail = self.reply(deadline)
            if header == "timeout":
                raise NotebookStopped(f"the notebook ran out of time ({self.where()} still running)")
            if header == "eof":
                raise NotebookStopped(f"the notebook's process {self.death()} at {self.where()}")
            if header in ("protocol", "too_large"):
                raise NotebookStopped(f"the notebook broke the grading protocol at {self.where()}: {detail}")
            try:
                defined = self._progress(header, grade_id)
            except (TypeError, ValueError, AttributeError) as error:  # a forged, malformed reply
                raise NotebookStopped(f"the notebook broke the grading protocol at {self.where()}: "
                                      f"{type(error).__name__}") from None
            if defined is not None:
                return defined

    def _progress(self, header, grade_id):
        """Follow one reply while cells run; the defined functions once ``grade_id`` is served."""
        event = header.get("event")
        if event == "cell":
            self.cell = int(header.get("index"))
        elif event == "cell_done" and header.get("error"):
            self.cell_errors.append((int(header.get("index")), str(header.get("error"))[:300]))
        elif event == "exercise":
            self.printed = max(self.printed, int(header.get("printed", 0) or 0))
            if header.get("grade_id") != grade_id:
                raise NotebookStopped(f"the worker served {header.get('grade_id')!r}, expected {grade_id!r}")
            return [str(name) for name in header.get("defined", [])]
        elif event == "exit":
            raise NotebookStopped(f"the notebook called exit() at cell {int(header.get('index'))}")
        elif event == "end":
            raise NotebookStopped("the notebook ended before this exercise")
        return None

    def call(self, name, args, kwargs, deadline):
        """The function's result as plain data; raises the student's error as a StudentError
        (or NotImplementedError), ExerciseStopped if the worker fails."""
        if not self.send({"op": "call", "name": name, "args": args, "kwargs": kwargs}):
            raise ExerciseStopped("crashed", f"the notebook's process {self.death()} before {name} ran")
        header, blobs = self.reply(deadline)
        if header == "timeout":
            raise ExerciseStopped("timeout", f"{name} did not return within the time limit")
        if header == "too_large":
            raise ExerciseStopped("output-limit", f"{name} returned {blobs}: too large to judge")
        if header in ("eof", "protocol"):
            why = self.death() if header == "eof" else f"broke the grading protocol ({blobs})"
            raise ExerciseStopped("crashed", f"the notebook's process {why} while {name} ran")
        blocked = header.get("blocked")
        self.blocked = [str(name)[:60] for name in blocked[:10]] if isinstance(blocked, list) else []
        if header.get("event") == "undefined":
            raise ExerciseStopped("failed", f"{name} is not defined")
        if header.get("event") == "raised":
            if header.get("type") == "CpuTimeLimit":
                raise ExerciseStopped("timeout", f"{name} used its CPU-time limit without returning "
                                                 "(an endless loop?)")
            raise _student_error(header.get("type"), str(header.get("message"))[:2000])
        try:
            value = decode_value(header.get("value"), blobs)
            apply_states(header.get("states"), args, blobs)
            return value
        except ProtocolError as error:
            raise ExerciseStopped("crashed", f"{name} returned something unreadable: {error}") from None

    def send(self, request):
        """Send a request; False if the worker is gone."""
        try:
            send_request(self.process.stdin, request)
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def next(self):
        self.send({"op": "next"})

    def kill(self):
        with contextlib.suppress(ProcessLookupError, OSError):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=10)


def _student_error(type_name, message):
    name = "".join(c for c in str(type_name) if c.isalnum() or c == "_")[:60] or "Error"
    if name == "NotImplementedError":
        return NotImplementedError(message)
    return type(name, (StudentError,), {})(str(message))


# --- Judging ---------------------------------------------------------------------------------

_namespaces = {}


def judge_namespace(lesson):
    """The lesson's imports cell and context cells (instructor code), run once per judge
    process; a copy for each exercise. A context cell that fails leaves its names undefined:
    the graded test that needs them reports it."""
    if lesson.name not in _namespaces:
        namespace = {"__name__": "__judge__"}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(lesson.setup_source, f"<{lesson.name} imports>", "exec"), namespace)
            for number, source in enumerate(lesson.context):
                with contextlib.suppress(Exception):
                    code = compile(without_magics(source), f"<{lesson.name} context {number}>", "exec")
                    exec(code, namespace)
        _namespaces[lesson.name] = namespace
    return dict(_namespaces[lesson.name])


def _salted(seed, secret):
    if not secret:
        return seed
    digest = hashlib.sha256(f"{secret}:{seed!r}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


@contextlib.contextmanager
def drawn_at_grading_time(secret):
    """Mix ``secret`` into every seed the checks and hidden tests pass to numpy and torch, so
    their random inputs are new at each grading run (the answers still come from the reference)."""
    import torch
    default_rng, manual_seed, seed = np.random.default_rng, torch.manual_seed, np.random.seed
    np.random.default_rng = lambda s=None: default_rng(None if s is None else _salted(s, secret))
    torch.manual_seed = lambda s: manual_seed(_salted(s, secret))
    np.random.seed = lambda s=None: seed(None if s is None else _salted(s, secret) % 2**32)
    try:
        yield
    finally:
        np.random.default_rng, torch.manual_seed, np.random.seed = default_rng, manual_seed, seed


def _proxy(session, name, deadline):
    def proxy(*args, **kwargs):
        return session.call(name, args, kwargs, min(deadline, time.monotonic() + proxy.wall_timeout))
    proxy.__name__ = proxy.__qualname__ = name
    return proxy


def _verdict(exercise, error, printed):
    """(status, points, message) for what running the graded cell ended with."""
    if error is None:
        return "passed", exercise.points, printed.strip() or "passed"
    if isinstance(error, ExerciseStopped):
        return error.args[0], 0.0, error.args[1]
    if isinstance(error, AssertionError):
        return "failed", 0.0, str(error) or "a hidden test failed"
    if isinstance(error, (StudentError, NotImplementedError)):
        return "failed", 0.0, f"raised {type(error).__name__}: {error}"
    if isinstance(error, NameError):
        return "judge-error", 0.0, (f"the graded test needs a name the judge does not define ({error}); "
                                    "instructor: this test uses notebook state")
    return "failed", 0.0, f"the tests failed with {type(error).__name__}: {error}"


def judge_exercise(lesson, exercise, session, settings):
    """Run the instructor's graded cell against the worker's functions: an ExerciseResult."""
    deadline = time.monotonic() + settings.exercise_timeout
    namespace = judge_namespace(lesson)
    proxies = {name: _proxy(session, name, deadline) for name in exercise.functions}
    for proxy in proxies.values():
        proxy.wall_timeout = WALL_SLACK * settings.call_timeout
    namespace.update(proxies)
    session.blocked, output, error = [], io.StringIO(), None
    try:
        with contextlib.redirect_stdout(output), drawn_at_grading_time(settings.secret):
            exec(compile(without_magics(exercise.test_source), f"<{exercise.grade_id}>", "exec"), namespace)
    except BaseException as raised:  # noqa: BLE001 - every ending of the test is a verdict
        if isinstance(raised, KeyboardInterrupt):
            raise
        error = raised
    status, points, message = _verdict(exercise, error, output.getvalue())
    result = ExerciseResult(exercise.grade_id, points, exercise.points, status, message[:2000])
    if session.blocked:
        result.notes.append(f"called the course's reference {', '.join(session.blocked)} (blocked)")
    return result


def _stopped(exercise, status, message):
    return ExerciseResult(exercise.grade_id, 0.0, exercise.points, status, message)


def grade_notebook(lesson, notebook, settings=Settings()):
    """Grade a submission (an nbformat notebook): (list of ExerciseResult, notes, log); notes
    are for the instructor to act on, the log says what happened (cell errors, output)."""
    steps, notes = plan_steps(lesson, notebook)
    order = [step[1] for step in steps if step[0] == "exercise"]
    exercises = {exercise.grade_id: exercise for exercise in lesson.exercises}
    notebook_deadline = time.monotonic() + settings.notebook_timeout
    results, session, stopped, log = {}, None, None, []
    for number, grade_id in enumerate(order):
        exercise = exercises[grade_id]
        if stopped:
            results[grade_id] = _stopped(exercise, "stopped", stopped)
            continue
        if session is None:
            session = WorkerSession(steps, number, lesson.references, settings)
        try:
            defined = session.reach_exercise(grade_id, notebook_deadline)
        except NotebookStopped as stop:
            stopped = str(stop)
            log += _session_log(session)
            session.kill()
            session = None
            results[grade_id] = _stopped(exercise, "stopped", stopped)
            continue
        missing = [name for name in exercise.functions if name not in defined]
        if missing:
            result = _stopped(exercise, "failed", f"{', '.join(missing)} is not defined when its graded "
                                                  "cell runs (exercise cell deleted, renamed or failing?)")
        else:
            result = judge_exercise(lesson, exercise, session, settings)
        results[grade_id] = result
        if result.status in ("timeout", "crashed", "output-limit"):
            log += _session_log(session)
            session.kill()
            session = None
        else:
            session.next()
    if session is not None:
        log += _session_log(session)
        session.kill()
    return [results[e.grade_id] for e in lesson.exercises], notes, list(dict.fromkeys(log))


def _session_log(session):
    """What a worker did that does not change the grade: cell errors, output."""
    log = [f"cell {index} raised {error}" for index, error in session.cell_errors]
    if session.printed > 2**20:
        log.append(f"printed {session.printed / 2**20:.0f} MB (discarded; output never affects the grade)")
    return log
