"""Start a submission's worker in a sandbox: bubblewrap namespaces plus resource limits.

The worker (:mod:`course_tools.grading_worker`) sees a read-only system (``/usr``, ``/lib``,
``/bin``, ``/etc``), Python and the virtual environment, the course package and the
Fashion-MNIST files, read-only, at their own paths, and a private ``/tmp``. It does not see
the course folder (gradebook, ``source/``, ``release/``, other submissions), ``solutions/``,
home folders or anything else; it has no network (``--unshare-net``), its own process,
IPC and user namespaces (uid 65534 inside), and it dies with the judge. Limits (``setrlimit``
before bubblewrap starts, inherited by everything inside): address space, CPU seconds,
processes, file size, open files.

Without bubblewrap (not installed, or user namespaces disabled), :func:`sandbox_mode` says
so and the judge refuses to run unless the instructor passes ``allow_unsandboxed``: then the
worker runs with the limits only, as the grading user, and can read what that user can.
"""

import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["Limits", "SandboxUnavailable", "sandbox_mode", "sandbox_command", "start_worker"]

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc/alternatives",
                "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                "/etc/fonts", "/etc/matplotlibrc")
WORKER_FILES = ("course_tools/__init__.py", "course_tools/grading_protocol.py",
                "course_tools/grading_modules.py", "course_tools/grading_worker.py")
DATA_PATHS = ("/usr/share/datasets/fashion-mnist",)
COURSE_MOUNT = "/opt/course"


class SandboxUnavailable(RuntimeError):
    """Bubblewrap cannot run here: install it (apt-get install bubblewrap) or allow user
    namespaces, or grade unsandboxed on purpose."""


@dataclass(frozen=True)
class Limits:
    """Per-submission resource limits (bytes, seconds, counts)."""

    memory_bytes: int = 6 * 2**30      # address space; torch alone reserves about 1.5 GB
    cpu_seconds: int = 300
    processes: int = 512               # per user: only binding for a non-root grader
    file_bytes: int = 64 * 2**20
    open_files: int = 256
    tmp_bytes: int = 256 * 2**20       # the private /tmp (memory-backed)

    def apply(self):
        """setrlimit in the current process (called between fork and exec)."""
        for limit, value in [(resource.RLIMIT_AS, self.memory_bytes),
                             (resource.RLIMIT_CPU, self.cpu_seconds),
                             (resource.RLIMIT_NPROC, self.processes),
                             (resource.RLIMIT_FSIZE, self.file_bytes),
                             (resource.RLIMIT_NOFILE, self.open_files),
                             (resource.RLIMIT_CORE, 0)]:
            resource.setrlimit(limit, (value, value))
        os.setsid()


@lru_cache(maxsize=1)
def sandbox_mode():
    """"bwrap" when bubblewrap can make its namespaces here, else "none"."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "none"
    probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-all", "--unshare-user",
                            "--die-with-parent", "true"], capture_output=True)
    return "bwrap" if probe.returncode == 0 else "none"


def _python_paths():
    """The interpreter's own folders: the venv and the Python it was made from."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    return sorted(str(p) for p in paths if str(p) not in ("/usr", "/"))


def _data_paths():
    from course_utils.data import user_cache_dir
    return [p for p in (*DATA_PATHS, str(user_cache_dir())) if Path(p).exists()]


def _environment(quick=True):
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/tmp",
            "PYTHONPATH": COURSE_MOUNT, "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/matplotlib", "XDG_CACHE_HOME": "/opt/cache",
            "COURSE_DATA": "/opt/cache/cnn-course/fashion-mnist",
            "COURSE_QUICK": "1" if quick else "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "TORCH_NUM_THREADS": "1", "LANG": "C.UTF-8"}


def sandbox_command(quick=True, tmp_bytes=Limits.tmp_bytes):
    """The bwrap command line that runs the worker (list of str)."""
    command = ["bwrap", "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
               "--die-with-parent", "--new-session", "--clearenv", "--proc", "/proc",
               "--dev", "/dev", "--size", str(tmp_bytes), "--tmpfs", "/tmp", "--dir", "/opt/cache"]
    for path in SYSTEM_PATHS:
        if os.path.exists(path):
            command += ["--ro-bind", path, path]
    for path in _python_paths():
        command += ["--ro-bind", path, path]
    command += ["--ro-bind", str(ROOT / "course_utils"), f"{COURSE_MOUNT}/course_utils"]
    for file in WORKER_FILES:
        command += ["--ro-bind", str(ROOT / file), f"{COURSE_MOUNT}/{file}"]
    for path in _data_paths():
        target = "/opt/cache/cnn-course/fashion-mnist" if "cnn-course" in path else path
        command += ["--ro-bind", path, target]
    for name, value in _environment(quick).items():
        command += ["--setenv", name, value]
    return command + ["--chdir", "/tmp", sys.executable, "-m", "course_tools.grading_worker"]


def start_worker(limits=Limits(), quick=True, allow_unsandboxed=False):
    """A running worker (subprocess.Popen with stdin/stdout pipes); SandboxUnavailable if
    bubblewrap cannot run and ``allow_unsandboxed`` is false."""
    if sandbox_mode() == "bwrap":
        command, env, cwd = sandbox_command(quick, limits.tmp_bytes), None, "/"
    elif allow_unsandboxed:
        env = dict(_environment(quick), PYTHONPATH=str(ROOT), COURSE_DATA="", XDG_CACHE_HOME="",
                   HOME=os.environ.get("HOME", "/tmp"), MPLCONFIGDIR="/tmp")
        command, cwd = [sys.executable, "-m", "course_tools.grading_worker"], "/tmp"
    else:
        raise SandboxUnavailable("bubblewrap (bwrap) cannot create its namespaces here: install it "
                                 "with `apt-get install bubblewrap` and allow unprivileged user "
                                 "namespaces, or pass --unsandboxed to grade with limits only")
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, cwd=cwd,
                            preexec_fn=limits.apply)
