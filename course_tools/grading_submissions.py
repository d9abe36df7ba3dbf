"""Find and read a class's submissions, turning every problem into words for the instructor.

A submissions folder holds one folder per student, with the notebook either directly in it
or in a folder named after the lesson (nbgrader's ``submitted/<student>/<lesson>/``)::

    SUBMISSIONS/alice/01_convolution.ipynb
    SUBMISSIONS/bob/01_convolution/01_convolution.ipynb

A notebook under another name is graded if it is the only one (with a note); none, several
or an unreadable one is a :class:`SubmissionProblem` whose message says what to do.
"""

import json
from pathlib import Path

import nbformat

__all__ = ["SubmissionProblem", "MAX_NOTEBOOK_BYTES", "find_students", "locate_notebook", "load_notebook"]

MAX_NOTEBOOK_BYTES = 50 * 2**20


class SubmissionProblem(Exception):
    """A submission that cannot be graded; the message says why and what to do."""


def find_students(submissions):
    """{student: folder} for every visible folder in ``submissions``."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(f"{submissions} is not a folder of submissions (one folder per student)")
    return {folder.name: folder for folder in sorted(submissions.iterdir())
            if folder.is_dir() and not folder.name.startswith(".")}


def locate_notebook(folder, lesson):
    """(path, notes) of the student's notebook for ``lesson``; SubmissionProblem if none or
    several candidates."""
    folder = Path(folder)
    for place in (folder / lesson, folder):
        expected = place / f"{lesson}.ipynb"
        if expected.is_file():
            return expected, []
    candidates = sorted(p for place in (folder / lesson, folder) if place.is_dir()
                        for p in place.glob("*.ipynb") if not p.name.startswith("."))
    if len(candidates) == 1:
        return candidates[0], [f"graded {candidates[0].name}, expected {lesson}.ipynb (renamed?)"]
    found = sorted(p.name for p in folder.rglob("*") if p.is_file())[:5]
    if candidates:
        raise SubmissionProblem(f"{len(candidates)} notebooks and none named {lesson}.ipynb "
                                f"({', '.join(p.name for p in candidates)}): keep one and rename it")
    raise SubmissionProblem(f"no notebook: expected {lesson}.ipynb, found "
                            f"{', '.join(found) if found else 'an empty folder'}")


def load_notebook(path):
    """The notebook at ``path`` (nbformat v4); SubmissionProblem if it is too large, not
    JSON or not a notebook."""
    path = Path(path)
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise SubmissionProblem(f"{path.name} is {path.stat().st_size / 2**20:.0f} MB (limit "
                                f"{MAX_NOTEBOOK_BYTES / 2**20:.0f} MB): clear its outputs and submit again")
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise SubmissionProblem(f"{path.name} is not valid JSON ({error}): the file is damaged; "
                                "ask the student for a copy that opens in JupyterLab") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise SubmissionProblem(f"{path.name} is JSON but not a notebook (no list of cells)")
    try:
        return nbformat.reads(json.dumps(data), as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat's errors vary by version
        raise SubmissionProblem(f"{path.name} is not a readable notebook ({type(error).__name__}: "
                                f"{str(error)[:200]})") from None
