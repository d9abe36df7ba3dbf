"""Submissions for the grading tests and benchmark (see variants.py)."""
