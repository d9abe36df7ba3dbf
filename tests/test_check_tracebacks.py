"""checks.tracebacks: in IPython a failed check shows a header and its explanation, and still fails."""

import builtins
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from course_utils.checks import CheckFailed, tracebacks

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
UNSOLVED = "def conv2d_single(image, kernel):\n    raise NotImplementedError()\n"
CHECK = "from course_utils.checks import check_conv2d_single\ncheck_conv2d_single(conv2d_single)"


def plain(text):
    return ANSI.sub("", text)


@pytest.fixture
def shell(monkeypatch):
    """A fresh IPython shell (not the global instance: get_ipython() stays None for other tests)
    whose shown tracebacks are recorded as ipykernel would send them: (ename, evalue, text)."""
    saved = {name: builtins.__dict__.get(name) for name in ("__IPYTHON__", "display")}
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell(config=config, user_module=types.ModuleType("check_display_cells"))
    shell.shown = []

    def record(etype, evalue, stb):
        shell.shown.append((etype.__name__, str(evalue), plain("\n".join(stb))))

    monkeypatch.setattr(shell, "_showtraceback", record)
    yield shell
    sys.modules.pop("check_display_cells", None)
    for name, value in saved.items():  # InteractiveShell() sets these builtins for good
        if value is None:
            builtins.__dict__.pop(name, None)
        else:
            builtins.__dict__[name] = value


def run(shell, *cells):
    """Run the cells in turn; the result of the last one."""
    for cell in cells:
        result = shell.run_cell(cell, store_history=True)
    return result


def test_a_failed_check_shows_a_header_and_the_explanation(shell):
    assert tracebacks.install(shell)
    result = run(shell, UNSOLVED, CHECK)
    assert isinstance(result.error_in_exec, CheckFailed) and not result.success
    [(ename, evalue, text)] = shell.shown
    assert ename == "CheckFailed" and evalue == str(result.error_in_exec)
    assert "conv2d_single is not implemented yet: replace `raise NotImplementedError()`" in evalue
    lines = text.splitlines()
    assert lines[0] == "✗ check_conv2d_single failed — Cell In[2], line 2: check_conv2d_single(conv2d_single)"
    assert lines[1:] == evalue.splitlines()
    assert len(lines) < 8 and "course_utils" not in text and "Traceback" not in text


def test_a_wrong_answer_and_an_error_in_the_students_code_are_shown_the_same_way(shell):
    tracebacks.install(shell)
    run(shell, "def conv2d_single(image, kernel):\n    return image[0, :2, :2]\n", CHECK)
    run(shell, "def conv2d_single(image, kernel):\n    return 1 / 0\n", CHECK)
    (_, wrong, wrong_text), (_, error, error_text) = shell.shown
    assert "conv2d_single returned shape (2, 2), expected (4, 6)" in wrong_text
    assert "conv2d_single raised ZeroDivisionError: division by zero" in error_text
    assert all(len(text.splitlines()) < 8 and "course_utils" not in text for text in (wrong_text, error_text))


def test_a_check_called_from_the_students_own_function_names_that_line(shell):
    tracebacks.install(shell)
    run(shell, UNSOLVED, "from course_utils.checks import check_conv2d_single\n"
                         "def all_checks():\n    check_conv2d_single(conv2d_single)\n", "all_checks()")
    [(_, _, text)] = shell.shown
    assert text.splitlines()[0] == ("✗ check_conv2d_single failed — Cell In[2], line 3: "
                                    "check_conv2d_single(conv2d_single)")


def test_other_exceptions_keep_the_usual_traceback(shell):
    tracebacks.install(shell)
    result = run(shell, "assert 1 == 2, 'a hidden test'")
    assert type(result.error_in_exec) is AssertionError
    assert shell.shown[0][0] == "AssertionError" and "Traceback" in shell.shown[0][2]


def test_installing_twice_or_after_a_reload_keeps_one_handler(shell):
    assert tracebacks.install(shell) and tracebacks.install(shell)
    assert shell.custom_exceptions == (CheckFailed,)
    # The class of a reloaded course_utils.checks.harness is a new class of the same name.
    old = type("CheckFailed", (AssertionError,), {"__module__": CheckFailed.__module__})
    shell.set_custom_exc((old,), lambda *args, **kwargs: None)
    assert tracebacks.install(shell) and shell.custom_exceptions == (CheckFailed,)
    run(shell, UNSOLVED, CHECK)
    assert len(shell.shown) == 1


def test_someone_elses_handler_is_left_alone(shell):
    def theirs(shell, etype, value, tb, tb_offset=None):
        shell.shown.append(("theirs", str(value), ""))

    shell.set_custom_exc((KeyError,), theirs)
    assert not tracebacks.install(shell)
    assert shell.custom_exceptions == (KeyError,)
    assert not tracebacks.uninstall(shell) and shell.custom_exceptions == (KeyError,)
    run(shell, "{}['x']")
    assert shell.shown[-1][0] == "theirs"
    # CheckFailed falls back to IPython's usual traceback, explanation included.
    run(shell, UNSOLVED, CHECK)
    ename, evalue, text = shell.shown[-1]
    assert ename == "CheckFailed" and "Traceback" in text and evalue in text


def test_uninstall_brings_the_full_traceback_back(shell):
    tracebacks.install(shell)
    assert tracebacks.uninstall(shell) and shell.custom_exceptions == ()
    run(shell, UNSOLVED, CHECK)
    assert "Traceback" in shell.shown[-1][2]


def test_if_the_short_display_fails_the_full_traceback_is_shown(shell, monkeypatch):
    tracebacks.install(shell)
    monkeypatch.setattr(tracebacks, "short_traceback", lambda *args: 1 / 0)
    result = run(shell, UNSOLVED, CHECK)
    assert isinstance(result.error_in_exec, CheckFailed)
    assert shell.shown[-1][0] == "CheckFailed" and "Traceback" in shell.shown[-1][2]
    assert shell.custom_exceptions == (CheckFailed,)  # still registered


def test_without_ipython_nothing_is_registered():
    assert tracebacks._running_shell() is None  # pytest is no IPython
    assert not tracebacks.install() and not tracebacks.uninstall()


def test_plain_python_keeps_the_normal_exception():
    code = ("import sys\nfrom course_utils.checks import check_conv2d_single\n"
            "assert 'IPython' not in sys.modules\ncheck_conv2d_single(lambda image, kernel: None)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "CheckFailed: conv2d_single returned None" in result.stderr.splitlines()[-1]


@pytest.mark.slow
def test_in_a_kernel_the_cell_fails_for_nbclient_and_nbgrader_with_a_short_traceback(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbgrader.utils import determine_grade

    from course_tools.kernel_polling import poll_in_slices

    tagged = {"tags": ["raises-exception"]}
    grade = {"grade": True, "grade_id": "conv2d_single_tests", "locked": True, "points": 3,
             "schema_version": 3, "solution": False, "task": False}
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(UNSOLVED + "from course_utils.checks import check_conv2d_single"),
        nbformat.v4.new_code_cell("check_conv2d_single(conv2d_single)", metadata=tagged),
        nbformat.v4.new_code_cell("check_conv2d_single(conv2d_single)", metadata={"nbgrader": grade}),
        nbformat.v4.new_code_cell("print('not reached')"),
    ])
    poll_in_slices()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    client = NotebookClient(notebook, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as raised:
        client.execute(env=env)
    assert raised.value.ename == "CheckFailed"  # the grader sees the failure
    tagged, graded, after = notebook.cells[1:]
    for cell in (tagged, graded):  # the tagged cell (nbval's raises-exception) ran on past its error
        [output] = cell.outputs
        assert output.output_type == "error" and output.ename == "CheckFailed"
        assert output.evalue.startswith("conv2d_single is not implemented yet")
        text = plain("\n".join(output.traceback))
        assert text.splitlines()[0] == (f"✗ check_conv2d_single failed — Cell In[{cell.execution_count}], "
                                        "line 1: check_conv2d_single(conv2d_single)")
        assert len(text.splitlines()) < 8 and "course_utils" not in text
    assert determine_grade(graded) == (0, 3.0)
    assert not after.outputs
