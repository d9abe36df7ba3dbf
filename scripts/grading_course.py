"""Make an nbgrader course directory from solutions/ (see course_tools/grading_course.py).

    python scripts/grading_course.py ~/cnn-grading
"""

from course_tools.grading_course import main

if __name__ == "__main__":
    main()
