#!/usr/bin/env bash
# Set up the course in ./.venv, then open it in JupyterLab or run the tests.
#
#   bash bootstrap.sh lab          students: the course's packages, then JupyterLab on notebooks/
#   bash bootstrap.sh instructor   instructors: adds nbgrader and jupytext, then JupyterLab on the course
#   bash bootstrap.sh test         maintainers: adds the test tools, then runs every test
#   bash bootstrap.sh setup        set up for the tests (as CI does), open nothing
#
# A student's set-up installs nothing for grading, so their JupyterLab shows no nbgrader menus.
# Safe to re-run: each step is skipped when it is already done.
# TORCH_VARIANT=cpu|cuda overrides the automatic choice of PyTorch build.
set -euo pipefail
cd "$(dirname "$0")"

TORCH_VERSION=2.13.0
VENV=.venv
PY=$VENV/bin/python
DATA_PACKAGE=dataset-fashion-mnist

say() { printf '\033[1m[course]\033[0m %s\n' "$*"; }

install_data() {
    if [ -d /usr/share/datasets/fashion-mnist ] || [ -n "${COURSE_DATA:-}" ]; then return; fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing Fashion-MNIST from Debian's $DATA_PACKAGE"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DATA_PACKAGE" >/dev/null
    else
        say "Fashion-MNIST is not installed: run 'sudo apt-get install $DATA_PACKAGE', or set"
        say "COURSE_DATA to a folder holding the four files; on a networked machine the"
        say "notebooks download them on first use."
    fi
}

make_venv() {
    [ -x "$PY" ] && return
    say "creating the virtual environment $VENV"
    python3 -m venv "$VENV" || {
        echo "python3 -m venv failed: install Python 3.10+ with venv (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
}

has_gpu() { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }

install_torch() {
    "$PY" -c "import torch" 2>/dev/null && return
    local variant=${TORCH_VARIANT:-$(has_gpu && echo cuda || echo cpu)}
    local pip=("$PY" -m pip install -q)
    if [ "$variant" = cuda ]; then
        say "installing PyTorch $TORCH_VERSION with CUDA (an NVIDIA GPU was found)"
        "${pip[@]}" "torch==$TORCH_VERSION"
    elif "$PY" -m pip download -q --no-index --no-deps -d "$(mktemp -d)" "torch==$TORCH_VERSION" 2>/dev/null; then
        # pip's find-links holds a CPU wheel (as on the course machines): pip prefers it.
        say "installing PyTorch $TORCH_VERSION, CPU build (local wheel)"
        "${pip[@]}" "torch==$TORCH_VERSION"
    else
        # The default Linux wheel from the package index bundles several GB of CUDA
        # libraries; PyTorch's own CPU index has the small build.
        say "installing PyTorch $TORCH_VERSION, CPU build (PyTorch's CPU index)"
        "${pip[@]}" --no-deps --index-url https://download.pytorch.org/whl/cpu "torch==$TORCH_VERSION"
        "${pip[@]}" "torch==$TORCH_VERSION"  # its dependencies, from the usual index
    fi
}

# install_course EXTRAS: course_utils with the given pip extras ("" for a student).
install_course() {
    local extras=$1 stamp want
    stamp=$VENV/.course-installed${extras:+-${extras//,/-}}
    want=$(cat pyproject.toml | sha256sum | cut -c1-16)
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
    say "installing course_utils${extras:+ with its $extras tools}"
    "$PY" -m pip install -q -e ".${extras:+[$extras]}"
    echo "$want" > "$stamp"
}

# setup EXTRAS
setup() {
    install_data
    make_venv
    install_torch
    install_course "$1"
    say "ready: $("$PY" -c 'import torch; print("torch", torch.__version__, "| CUDA" if torch.cuda.is_available() else "| CPU")')"
}

open_lab() {
    local root_flag=(); [ "$(id -u)" = 0 ] && root_flag=(--allow-root)
    exec "$VENV/bin/jupyter" lab "${root_flag[@]}" "$@"
}

case "${1:-}" in
    setup) setup tests,instructor ;;
    lab)
        setup ""
        shift
        open_lab notebooks/ "$@" ;;
    instructor)
        setup instructor
        shift
        say "grading: python scripts/grade_class.py --help (README, 'Instructors')"
        open_lab "$@" ;;
    test)
        setup tests,instructor
        shift
        exec "$PY" -m pytest "$@" ;;
    *)
        echo "usage: bash bootstrap.sh lab|instructor|test|setup" >&2
        exit 2 ;;
esac
