"""The program that runs inside the sandbox: a submission's cells, then its functions on
the judge's inputs (``python -m course_tools.grading_worker``, started by the judge).

It reads one plan from stdin (see :mod:`course_tools.grading_judge`): a list of steps,
``("cell", index, source)`` to run a student's code cell in an IPython shell, and
``("exercise", grade_id, function_names)`` where the notebook's graded cell was. At an
exercise it tells the judge, then answers ``call`` requests with the function's result as
plain data (:mod:`course_tools.grading_protocol`) until the judge says ``next``. While it
answers, the course's reference implementations named in the plan raise
:class:`ReferenceUnavailable`. Cells never affect the protocol: stdin, stdout and stderr are
moved away before the first cell, and printed output is counted and discarded.
"""

import inspect
import io
import os
import signal
import sys
import traceback

from course_tools.grading_protocol import encode_states, encode_value, read_request, send_reply

OUTPUT_KEPT = 4096


class ReferenceUnavailable(Exception):
    """A course reference implementation was called while a graded exercise ran."""


class CountingStream(io.TextIOBase):
    """A text stream that keeps the first OUTPUT_KEPT characters and counts the rest."""

    def __init__(self):
        self.written, self.kept = 0, []

    def write(self, text):
        text = str(text)
        if self.written < OUTPUT_KEPT:
            self.kept.append(text[:OUTPUT_KEPT - self.written])
        self.written += len(text)
        return len(text)

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        raise io.UnsupportedOperation("no file descriptor while grading")


def _protocol_streams():
    """Keep stdin/stdout for the judge; cells get /dev/null and counting streams."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdin = io.StringIO()
    sys.stdout, sys.stderr = CountingStream(), CountingStream()
    return requests, replies


STUB = """def {name}(*args, **kwargs):
    worker = __import__("sys").modules["course_tools.grading_worker"]
    worker.blocked.append("{name}")
    raise worker.ReferenceUnavailable("the course's reference `{name}` cannot be used in a graded "
                                      "exercise; write your own code")
"""


def _stub_for(name):
    """A code object that records and refuses a call; it uses no global of the module it is put in."""
    namespace = {}
    exec(STUB.format(name=name), namespace)
    return namespace[name].__code__


class NotebookExit(BaseException):
    """The notebook called exit() or quit(): like a kernel, it stops there."""


exit_requested = []


def _ask_exit():
    exit_requested.append(True)  # IPython catches the exception; the flag survives
    raise NotebookExit()


blocked = []


def _functions(reference):
    """The plain functions a reference names: a module's own functions, or one function."""
    import importlib
    try:
        module = importlib.import_module(reference)
        return [value for value in vars(module).values()
                if inspect.isfunction(value) and value.__module__ == reference]
    except ImportError:
        module_name, _, name = reference.rpartition(".")
        function = getattr(importlib.import_module(module_name), name, None)
        return [function] if inspect.isfunction(function) else []


def block_references(references):
    """Make every function the references name (modules or functions) raise
    ReferenceUnavailable, wherever it is referenced from (its code object is swapped);
    returns what restores them."""
    saved, seen = [], set()
    for reference in references:
        for function in _functions(reference):
            if function.__closure__ is None and id(function) not in seen:
                seen.add(id(function))
                saved.append((function, function.__code__, function.__defaults__, function.__kwdefaults__))
                function.__code__ = _stub_for(function.__name__)
    return saved


def restore_references(saved):
    for function, code, defaults, kwdefaults in saved:
        function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults


class CpuTimeLimit(Exception):
    """A call used more CPU time than the judge allows."""


def _on_cell_limit(signum, frame):
    raise KeyboardInterrupt("cell CPU-time limit")


def _on_call_limit(signum, frame):
    raise CpuTimeLimit("the call used more CPU time than the limit")


def cpu_limit(seconds, handler):
    """Raise from ``handler`` after ``seconds`` of this process's CPU time (0: no limit);
    CPU time, unlike wall time, does not run out faster on a busy machine."""
    signal.signal(signal.SIGPROF, handler)
    signal.setitimer(signal.ITIMER_PROF, max(0.0, float(seconds)))


def run_cell(shell, index, source, replies, cell_timeout):
    """Run one student cell; tell the judge which cell runs and how it ended."""
    send_reply(replies, {"event": "cell", "index": index})
    cpu_limit(cell_timeout, _on_cell_limit)
    try:
        result = shell.run_cell(source, store_history=False, silent=False)
        error = result.error_before_exec or result.error_in_exec
    except BaseException as escaped:  # noqa: BLE001 - whatever a cell raises, the next one runs
        error = escaped
    finally:
        cpu_limit(0, _on_cell_limit)
    if exit_requested:
        raise NotebookExit()
    return None if error is None else f"{type(error).__name__}: {error}"[:300]


def _reply_to_call(shell, names, request, replies, call_timeout):
    name = request["name"]
    function = shell.user_ns.get(name) if name in names else None
    if not callable(function):
        send_reply(replies, {"event": "undefined", "name": name})
        return
    del blocked[:]
    try:
        cpu_limit(call_timeout, _on_call_limit)
        try:
            value = function(*request["args"], **request.get("kwargs", {}))
        finally:
            cpu_limit(0, _on_call_limit)
    except BaseException as error:  # noqa: BLE001 - reported to the judge as the function's error
        send_reply(replies, {"event": "raised", "type": type(error).__name__,
                             "message": str(error)[:2000], "blocked": sorted(set(blocked))})
        return
    blobs, states = [], []
    try:
        description = encode_value(value, blobs)
        states = encode_states(request["args"], blobs)
    except Exception as error:  # noqa: BLE001 - a value that cannot be read is unsupported
        description, blobs = {"t": "unsupported", "type": f"{type(value).__name__} ({error})"}, []
    send_reply(replies, {"event": "value", "value": description, "states": states,
                         "blocked": sorted(set(blocked))}, blobs)


def serve_exercise(shell, grade_id, names, plan, requests, replies):
    """Answer the judge's calls of the exercise's functions until it says ``next``."""
    defined = [name for name in names if callable(shell.user_ns.get(name))]
    send_reply(replies, {"event": "exercise", "grade_id": grade_id, "defined": defined,
                         "printed": sys.stdout.written + sys.stderr.written})
    saved = block_references(plan["references"])
    try:
        while (request := read_request(requests))["op"] == "call":
            _reply_to_call(shell, names, request, replies, plan["call_timeout"])
    finally:
        restore_references(saved)


def main():
    sys.modules.setdefault("course_tools.grading_worker", sys.modules[__name__])  # for the stubs
    requests, replies = _protocol_streams()
    plan = read_request(requests)
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.enable_gui = lambda gui=None: None  # `%matplotlib inline` without a front end
    shell.ask_exit = _ask_exit
    first = plan.get("first_exercise", 0)
    exercise_number = 0
    for step in plan["steps"]:
        if step[0] == "cell":
            try:
                error = run_cell(shell, step[1], step[2], replies, plan["cell_timeout"])
            except NotebookExit:
                send_reply(replies, {"event": "exit", "index": step[1]})
                return
            send_reply(replies, {"event": "cell_done", "index": step[1], "error": error})
        elif exercise_number >= first:
            serve_exercise(shell, step[1], step[2], plan, requests, replies)
            exercise_number += 1
        else:
            exercise_number += 1
    send_reply(replies, {"event": "end", "printed": sys.stdout.written + sys.stderr.written})


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # noqa: BLE001 - the judge reads the end of the log
        os.write(2, traceback.format_exc().encode()[-2000:])
        raise
