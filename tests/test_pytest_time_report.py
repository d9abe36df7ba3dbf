"""course_tools.pytest_time_report: the time of a run, file by file, slowest first."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_lists_files_slowest_first_with_their_test_counts(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_slow.py").write_text("import time\ndef test_a():\n    time.sleep(0.3)\n")
    (tmp_path / "test_quick.py").write_text("def test_b():\n    pass\ndef test_c():\n    pass\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "course_tools.pytest_time_report",
         "--time-by-file", "5", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "time by file: the 5 slowest of 2" in line)
    slow, quick, total = lines[start + 1:start + 4]
    assert slow.endswith("test_slow.py") and "1 tests" in slow
    assert quick.endswith("test_quick.py") and "2 tests" in quick
    assert float(slow.split()[0]) >= 0.3 and "in all tests" in total


def test_silent_unless_asked(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_one.py").write_text("def test_a():\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "course_tools.pytest_time_report",
                           str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert done.returncode == 0 and "time by file" not in done.stdout
