"""Grade a class for one lesson in sandboxes, in parallel (see course_tools/grading_class.py).

    python scripts/grade_class.py 01_convolution ~/grading/submitted --course ~/grading --workers 4
"""

from course_tools.grading_class import main

if __name__ == "__main__":
    main()
