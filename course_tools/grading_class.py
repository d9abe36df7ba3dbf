"""Grade a whole class for one lesson, in parallel, resumably; export grades and feedback.

    python scripts/grade_class.py 01_convolution SUBMISSIONS --workers 4 [--course COURSE]

Each student is graded by :func:`course_tools.grading_judge.grade_notebook` in one of N
judge processes; the result is written atomically to ``OUT/results/<student>.json`` as soon
as that student is done. A rerun skips students with a result and grades the others, so an
interrupted run (Ctrl-C, a reboot) continues where it stopped and half-graded students are
graded again. At the end, from every result file:

* ``OUT/grades.csv``: student, points per graded cell, total, max, and the problems;
* ``OUT/summary.txt``: one line per student whose grading met a problem (missing or renamed
  notebook, invalid JSON, timeout, crash, output, blocked reference...), what the instructor reads;
* ``feedback/<student>/<lesson>/<lesson>.html``: each student's points and messages, in the
  course's feedback/ (where ``nbgrader release_feedback`` takes it) or else in OUT;
* with ``--course``, the nbgrader gradebook: one submission per student with each graded
  cell's score as its auto score, so ``nbgrader export`` and the formgrader show them
  (``nbgrader generate_assignment LESSON`` must have run once, to create the grade cells).
"""

import concurrent.futures
import csv
import html
import io
import json
import multiprocessing
import os
import secrets
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path

from course_tools.grading_judge import Settings, grade_notebook
from course_tools.grading_lesson import read_lesson
from course_tools.grading_sandbox import Limits
from course_tools.grading_submissions import SubmissionProblem, find_students, load_notebook, locate_notebook
from course_utils.files import atomic_write

__all__ = ["main", "grade_student", "grade_class", "read_results", "write_reports", "write_gradebook",
           "problems"]

_lessons = {}


def _lesson(source):
    if source not in _lessons:
        _lessons[source] = read_lesson(source)
    return _lessons[source]


def grade_student(source, student, folder, settings):
    """Grade one student's submission (run in a judge process): a result dict."""
    started, lesson = time.monotonic(), _lesson(source)
    record = {"student": student, "lesson": lesson.name, "max_points": lesson.max_points,
              "points": 0.0, "exercises": [], "notes": [], "problem": None, "notebook": None}
    try:
        path, notes = locate_notebook(folder, lesson.name)
        record["notebook"], record["notes"] = str(path), notes
        notebook = load_notebook(path)
        student_settings = replace(settings, secret=f"{settings.secret}:{student}")
        results, notes, record["log"] = grade_notebook(lesson, notebook, student_settings)
        record["exercises"] = [asdict(result) for result in results]
        record["notes"] += notes
        record["points"] = sum(result.points for result in results)
    except SubmissionProblem as problem:
        record["problem"] = str(problem)
    record["seconds"] = round(time.monotonic() - started, 1)
    return record


def _one_thread():
    """Judges compute with one thread, like the sandboxes: N judges do not fight over the cores,
    and float32 results (a conv's summation order) come out the same on both sides."""
    import torch
    torch.set_num_threads(1)


def _result_path(out, student):
    return Path(out) / "results" / f"{student}.json"


def read_results(out):
    """{student: result dict} of every finished student in ``out``."""
    results = {}
    for path in sorted((Path(out) / "results").glob("*.json")):
        try:
            record = json.loads(path.read_text())
            results[record["student"]] = record
        except (ValueError, KeyError):
            path.unlink()  # half-written by an older run: grade that student again
    return results


def _run_secret(out):
    """The run's secret (kept in OUT so that a resumed run draws the same inputs)."""
    path = Path(out) / "secret.txt"
    if not path.exists():
        atomic_write(path, lambda f: f.write(secrets.token_hex(16).encode()), mode=0o600)
    return path.read_text().strip()


def grade_class(source, submissions, out, workers=None, settings=None, regrade=False, progress=print):
    """Grade every student in ``submissions`` not yet graded in ``out``; returns all results."""
    students = find_students(submissions)
    done = {} if regrade else read_results(out)
    todo = {student: folder for student, folder in students.items() if student not in done}
    settings = replace(settings or Settings(), secret=_run_secret(out))
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    if done:
        progress(f"{len(done)} student(s) already graded in {out}; grading {len(todo)}")
    context = multiprocessing.get_context("spawn")  # the judges import torch: no fork
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
        futures = {pool.submit(grade_student, str(source), student, str(folder), settings): student
                   for student, folder in todo.items()}
        failed = {}
        for future in concurrent.futures.as_completed(futures):
            try:
                record = future.result()
            except Exception as error:  # noqa: BLE001 - a judge bug: no result file, so a rerun retries
                record = failed[futures[future]] = _judge_failure(futures[future], error)
            else:
                text = json.dumps(record, indent=1).encode()
                atomic_write(_result_path(out, record["student"]), lambda f, t=text: f.write(t))
            progress(_line(record))
    return {**done, **{s: r for s, r in read_results(out).items() if s in todo}, **failed}


def _judge_failure(student, error):
    return {"student": student, "lesson": "", "max_points": 0.0, "points": 0.0, "exercises": [],
            "notes": [], "notebook": None, "seconds": 0.0,
            "problem": f"the judge failed ({type(error).__name__}: {error}); rerun to grade again"}


def problems(record):
    """The instructor's words for what went wrong with a student (list of str, empty if nothing)."""
    words = [record["problem"]] if record.get("problem") else []
    for exercise in record.get("exercises", []):
        if exercise["status"] not in ("passed", "failed"):
            words.append(f"{exercise['grade_id']} {exercise['status']}: {exercise['message']}")
        words += [f"{exercise['grade_id']}: {note}" for note in exercise.get("notes", [])]
    printed = [line for line in record.get("log", []) if line.startswith("printed")]
    return words + list(record.get("notes", [])) + printed


def _line(record):
    text = f"{record['student']}: {record['points']:g}/{record['max_points']:g}"
    found = problems(record)
    return text + (f"  [{'; '.join(found)}]" if found else "")


def _grades_csv(results, lesson):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", *[e.grade_id for e in lesson.exercises], "total", "max", "problems"])
    for student, record in sorted(results.items()):
        points = {e["grade_id"]: e["points"] for e in record.get("exercises", [])}
        writer.writerow([student, *[points.get(e.grade_id, 0.0) for e in lesson.exercises],
                         record["points"], record["max_points"], " | ".join(problems(record))])
    return buffer.getvalue()


def _feedback_html(record):
    rows = "".join(f"<tr><td>{html.escape(e['grade_id'])}</td><td>{e['points']:g} / {e['max_points']:g}"
                   f"</td><td><pre>{html.escape(e['message'])}</pre></td></tr>"
                   for e in record.get("exercises", []))
    problem = f"<p><b>{html.escape(record['problem'])}</b></p>" if record.get("problem") else ""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in record.get("notes", []))
    return (f"<!doctype html><meta charset=utf-8><title>{html.escape(record['lesson'])}</title>"
            f"<h1>{html.escape(record['lesson'])}: {record['points']:g} / {record['max_points']:g}</h1>"
            f"{problem}<table border=1><tr><th>graded cell</th><th>points</th><th>message</th></tr>"
            f"{rows}</table>"
            + (f"<ul>{notes}</ul>" if notes else ""))


def write_reports(results, lesson, out, feedback=None):
    """grades.csv and summary.txt in ``out``, a feedback page per student in ``feedback``
    (default ``out/feedback``); returns the summary text."""
    out = Path(out)
    feedback = Path(feedback) if feedback else out / "feedback"
    atomic_write(out / "grades.csv", lambda f: f.write(_grades_csv(results, lesson).encode()))
    lines = [_line(r) for _, r in sorted(results.items()) if problems(r)]
    total = sum(r["points"] for r in results.values())
    summary = (f"{lesson.name}: {len(results)} student(s), mean {total / max(1, len(results)):.2f}/"
               f"{lesson.max_points:g}; {len(lines)} with problems\n")
    summary += "".join(f"{line}\n" for line in lines)
    atomic_write(out / "summary.txt", lambda f: f.write(summary.encode()))
    for student, record in results.items():
        page = feedback / student / lesson.name / f"{lesson.name}.html"
        atomic_write(page, lambda f, r=record: f.write(_feedback_html(r).encode()))
    return summary


def write_gradebook(results, lesson, course):
    """Record each student's scores in the nbgrader gradebook of ``course`` (auto scores)."""
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gradebook, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in session")  # nbgrader's own add_submission
        try:
            gradebook.find_assignment(lesson.name)
        except MissingEntry:
            raise RuntimeError(f"the gradebook has no assignment {lesson.name}: run `nbgrader "
                               f"generate_assignment {lesson.name}` in {course} first") from None
        for student, record in results.items():
            gradebook.update_or_create_student(student)
            try:
                gradebook.find_submission(lesson.name, student)
            except MissingEntry:
                gradebook.add_submission(lesson.name, student)
            for exercise in record.get("exercises", []) or [{"grade_id": e.grade_id, "points": 0.0}
                                                            for e in lesson.exercises]:
                grade = gradebook.find_grade(exercise["grade_id"], lesson.name, lesson.name, student)
                grade.auto_score, grade.manual_score = exercise["points"], None
            gradebook.db.commit()


def _arguments(argv):
    import argparse
    parser = argparse.ArgumentParser(description="Grade a class's submissions for one lesson in sandboxes, "
                                     "in parallel; write grades.csv, summary.txt and feedback.")
    parser.add_argument("lesson", help="lesson name, e.g. 01_convolution")
    parser.add_argument("submissions", help="folder with one folder per student (e.g. COURSE/submitted)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(),
                        help="parallel judges (default: the number of cores)")
    parser.add_argument("--course", help="nbgrader course folder: its source/ has the hidden tests and "
                        "its gradebook receives the scores")
    parser.add_argument("--source", help="instructor notebook with the hidden tests (default: the "
                        "course's source/LESSON/LESSON.ipynb, else solutions/LESSON.ipynb)")
    parser.add_argument("--out", help="results folder (default: COURSE/graded/LESSON or "
                        "SUBMISSIONS/../graded-LESSON)")
    parser.add_argument("--regrade", action="store_true", help="grade everyone again")
    parser.add_argument("--call-timeout", type=float, default=Settings.call_timeout)
    parser.add_argument("--exercise-timeout", type=float, default=Settings.exercise_timeout)
    parser.add_argument("--cell-timeout", type=float, default=Settings.cell_timeout)
    parser.add_argument("--notebook-timeout", type=float, default=Settings.notebook_timeout)
    parser.add_argument("--memory-gb", type=float, default=Limits.memory_bytes / 2**30,
                        help="address-space limit per submission")
    parser.add_argument("--full", action="store_true",
                        help="run training cells in full (default: COURSE_QUICK=1)")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="grade without bubblewrap (limits only): the student's cells can "
                        "read what you can")
    return parser.parse_args(argv)


def _paths(args):
    root = Path(__file__).resolve().parent.parent
    course = Path(args.course) if args.course else None
    notebook = f"{args.lesson}.ipynb"
    source = Path(args.source) if args.source else (
        course / "source" / args.lesson / notebook if course else root / "solutions" / notebook)
    if not source.is_file():
        raise SystemExit(f"no instructor notebook at {source}: pass --source or --course")
    beside = Path(args.submissions).resolve().parent / f"graded-{args.lesson}"
    out = Path(args.out) if args.out else (course / "graded" / args.lesson if course else beside)
    return course, source, out


def main(argv=None):
    args = _arguments(argv)
    course, source, out = _paths(args)
    limits = Limits(memory_bytes=int(args.memory_gb * 2**30),
                    cpu_seconds=int(args.notebook_timeout + 2 * args.exercise_timeout) + 60)
    settings = Settings(args.call_timeout, args.exercise_timeout, args.cell_timeout, args.notebook_timeout,
                        limits=limits, quick=not args.full, allow_unsandboxed=args.unsandboxed)
    started = time.monotonic()
    results = grade_class(source, args.submissions, out, args.workers, settings, args.regrade)
    lesson = _lesson(str(source))
    feedback = course / "feedback" if course else out / "feedback"  # nbgrader release_feedback's place
    print(write_reports(results, lesson, out, feedback), end="")
    if course:
        write_gradebook(results, lesson, course)
        print(f"gradebook updated: `nbgrader export` in {course} writes grades.csv")
    print(f"{len(results)} student(s) in {time.monotonic() - started:.0f} s; grades in {out / 'grades.csv'}, "
          f"problems in {out / 'summary.txt'}, feedback in {feedback}")
