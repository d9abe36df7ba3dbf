"""A pytest plugin that says where a test run's time went, file by file.

    python -m pytest -p course_tools.pytest_time_report --time-by-file 20

Adds up setup, call and teardown time of every test per file (an nbval notebook is one file:
all its cells) and prints the files that took longest, with their share of the run. CI
(`.ci/run`) uses it so that each run reports its slowest tests and notebooks.
"""

from collections import defaultdict

_SECONDS = defaultdict(float)
_COUNTS = defaultdict(int)


def pytest_addoption(parser):
    parser.addoption("--time-by-file", type=int, default=0, metavar="N",
                     help="print the N files whose tests took longest (0: off)")


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    _SECONDS[path] += report.duration
    if report.when == "call":
        _COUNTS[path] += 1


def pytest_terminal_summary(terminalreporter, config):
    shown = config.getoption("--time-by-file")
    if not shown or not _SECONDS:
        return
    total = sum(_SECONDS.values())
    terminalreporter.write_sep("=", f"time by file: the {shown} slowest of {len(_SECONDS)}")
    for path, seconds in sorted(_SECONDS.items(), key=lambda item: -item[1])[:shown]:
        terminalreporter.write_line(f"{seconds:8.1f} s {seconds / total:6.1%}  {_COUNTS[path]:5d} tests  "
                                    f"{path}")
    terminalreporter.write_line(f"{total:8.1f} s in all tests")
