"""In a notebook, a failed check shows its explanation, not a traceback.

Importing ``course_utils.checks`` inside IPython (a Jupyter kernel, the ``ipython`` shell) calls
:func:`install`, which registers a handler for :class:`CheckFailed` with IPython's
``InteractiveShell.set_custom_exc``. The cell then shows two parts instead of 19-27 lines of
traceback through the checks' source:

    ✗ check_conv2d_single failed — Cell In[7], line 1: check_conv2d_single(conv2d_single)
    conv2d_single returned wrong values: you flipped the kernel: ...
    (image of shape (3, 6, 7), kernel of shape (3, 3, 2))

a header naming the check and the cell line that called it, then the explanation. Only the
text changes: the cell still fails, with an ``error`` output (ename ``CheckFailed``, evalue the
explanation) and an ``error`` execute_reply, so nbgrader scores a graded cell 0, nbclient raises
CellExecutionError and nbval's ``raises-exception`` tag works as before; ``%debug`` still opens
the full traceback.

* Other exceptions keep IPython's usual traceback: a hidden test's ``assert`` (a plain
  AssertionError), an error in the student's own cell.
* IPython keeps one custom handler per shell. If one is already registered for other
  exceptions, :func:`install` leaves it in place and CheckFailed keeps the usual traceback.
  Registering again (a re-import, ``importlib.reload``) replaces our handler, never stacks it.
* Plain Python (no IPython running): nothing is registered, CheckFailed is an ordinary
  exception; IPython is not even imported.

``uninstall()`` brings the full tracebacks back (for whoever debugs a check).
"""

import linecache
import os
import sys
import traceback

from .harness import CheckFailed

__all__ = ["install", "uninstall", "short_traceback"]

_CHECKS_DIR = os.path.dirname(os.path.realpath(__file__)) + os.sep
_RED, _RESET = "\x1b[1;31m", "\x1b[0m"


def _running_shell():
    """The running IPython shell, or None (without importing IPython when nothing has)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _is_ours(exceptions):
    """True for the exceptions tuple our handler is registered with (a reloaded module's too)."""
    ours = (CheckFailed.__module__, CheckFailed.__qualname__)
    return bool(exceptions) and all(
        (getattr(e, "__module__", None), getattr(e, "__qualname__", None)) == ours for e in exceptions)


def install(shell=None):
    """Show CheckFailed as header + explanation in ``shell`` (default: the running IPython).

    Returns True when our handler is registered, False without IPython or when another custom
    handler is already registered (it is left alone)."""
    shell = shell if shell is not None else _running_shell()
    if shell is None:
        return False
    registered = tuple(getattr(shell, "custom_exceptions", ()) or ())
    if registered and not _is_ours(registered):
        return False
    shell.set_custom_exc((CheckFailed,), _show_check_failure)
    return True


def uninstall(shell=None):
    """Remove our handler (not someone else's); CheckFailed gets the usual traceback again."""
    shell = shell if shell is not None else _running_shell()
    if shell is None or not _is_ours(tuple(getattr(shell, "custom_exceptions", ()) or ())):
        return False
    shell.set_custom_exc((), None)
    return True


def _show_check_failure(shell, etype, value, tb, tb_offset=None):
    """IPython's custom handler: show the short traceback where IPython shows tracebacks."""
    try:
        stb = short_traceback(value, tb, shell)
    except Exception:  # never lose the failure because of its display
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    # What showtraceback would record, so that %debug opens this exception.
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = value
    shell.InteractiveTB.tb = tb  # as its structured_traceback does; %debug reads it first
    # _showtraceback is what IPython's own showtraceback ends with: the terminal prints the
    # text, ipykernel sends it as the cell's error output and keeps it for the execute_reply.
    shell._showtraceback(etype, value, stb)


def _inside_checks(frame):
    return os.path.realpath(frame.f_code.co_filename).startswith(_CHECKS_DIR)


def _inside_ipython(frame):
    return frame.f_globals.get("__name__", "").partition(".")[0] in ("IPython", "ipykernel")


def _where(frame, lineno, shell):
    """'Cell In[7], line 1: the line's source' (or 'File PATH, line N: ...' outside a cell)."""
    filename = frame.f_code.co_filename
    name = getattr(getattr(shell, "compile", None), "format_code_name", lambda _: None)(filename)
    label = f"{name[0]} {name[1]}" if name else f"File {filename}"
    source = linecache.getline(filename, lineno, frame.f_globals).strip()
    return f"{label}, line {lineno}" + (f": {source}" if source else "")


def short_traceback(error, tb, shell=None):
    """The lines shown for a CheckFailed: a header naming the check and the line that called
    it, then the explanation (the exception's message). No frame of the checks is shown."""
    frames = [(frame, lineno) for frame, lineno in traceback.walk_tb(tb) if not _inside_ipython(frame)]
    first = next((i for i, (frame, _) in enumerate(frames) if _inside_checks(frame)), len(frames))
    check = frames[first][0].f_code.co_name if first < len(frames) else ""
    what = f"{check} failed" if check.startswith("check_") else "check failed"
    callers = frames[:first] or [f for f in frames if not _inside_checks(f[0])]
    where = f" — {_where(*callers[-1], shell)}" if callers else ""
    colour = str(getattr(shell, "colors", "nocolor")).lower() not in ("nocolor", "none")
    header = f"{_RED}✗ {what}{_RESET}{where}" if colour else f"✗ {what}{where}"
    return [header, str(error)]
