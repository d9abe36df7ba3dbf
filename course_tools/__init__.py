"""Instructor and build tooling for the CNN course: not imported by the lessons.

What only instructors and the build need lives here, outside the package students import
(:mod:`course_utils`): for example :mod:`course_tools.kernel_polling`, the fix that keeps
nbclient/nbgrader notebook execution from stalling on a lost kernel message.
"""
