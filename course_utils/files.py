"""Writing files atomically: a crash mid-write never leaves half a file under the final name.

    atomic_write(path, lambda f: torch.save(state, f))
    atomic_write(path, lambda f: f.write(text.encode()))

Used for everything the package writes that others read later: downloaded and cached data
sets, training checkpoints, shipped models and their manifest.
"""

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path, write, mode=0o644):
    """Call ``write(file)`` on a temporary binary file beside ``path``, then rename it to ``path``.

    Args:
        path: the file to create or replace; its folder is created if needed.
        write: function of one argument, an open binary file, that writes the contents.
        mode: permissions of the result (the temporary file starts private to its owner;
            the default keeps a shared folder's files readable by all).

    Returns:
        ``path`` as a Path. On any error the temporary file is removed, the error is raised
        again, and a file already at ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
