"""Static images of stored widget outputs, for readers without a running kernel.

A stored explorer output is a widget view: its figure lives in the notebook's saved widget
state (an Output widget's captured ``image/png``), which only a widget-aware renderer shows.
``add_static_images`` copies that first figure into the output's own bundle, so that GitHub,
nbviewer, VS Code's preview and JupyterLab's fallback show the explorer's initial state.
A live kernel still gets the widget: front ends prefer the widget view to the image.

    python -m course_tools.widget_snapshots solutions/*.ipynb
"""

import argparse
import re

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MODEL_REFERENCE = re.compile(r"^IPY_MODEL_(\w+)$")

__all__ = ["add_static_images", "first_image", "widget_outputs"]


def _referenced_models(value):
    """Model ids referenced anywhere in a widget's state value (children, layout...)."""
    if isinstance(value, str):
        match = MODEL_REFERENCE.match(value)
        return [match.group(1)] if match else []
    if isinstance(value, (list, tuple)):
        return [model for item in value for model in _referenced_models(item)]
    if isinstance(value, dict):
        return [model for item in value.values() for model in _referenced_models(item)]
    return []


def first_image(state, model_id):
    """The first ``image/png`` (base64 text) captured by an Output widget inside the widget
    ``model_id``, children in display order; None if the tree holds none."""
    seen, pending = set(), [model_id]
    while pending:
        current = pending.pop(0)
        if current in seen or current not in state:
            continue
        seen.add(current)
        model = state[current]["state"]
        for output in model.get("outputs", []):
            image = output.get("data", {}).get("image/png")
            if image:
                return image
        pending[:0] = _referenced_models(model.get("children", []))
    return None


def widget_outputs(notebook):
    """Every (cell index, output) pair of the notebook whose output is a widget view."""
    return [(index, output) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for output in cell.get("outputs", []) if WIDGET_VIEW in output.get("data", {})]


def add_static_images(notebook):
    """Give each widget view the first figure of its saved state as ``image/png``.

    Returns the number of outputs changed; outputs already holding an image are left alone.
    """
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    changed = 0
    for _, output in widget_outputs(notebook):
        if "image/png" in output["data"]:
            continue
        image = first_image(state, output["data"][WIDGET_VIEW]["model_id"])
        if image is not None:
            output["data"]["image/png"] = image
            changed += 1
    return changed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="executed notebooks (.ipynb)")
    for path in parser.parse_args().notebooks:
        notebook = nbformat.read(path, as_version=4)
        changed = add_static_images(notebook)
        if changed:
            nbformat.write(notebook, path)
        print(f"{path}: {changed} widget output(s) given a static image")


if __name__ == "__main__":
    main()
