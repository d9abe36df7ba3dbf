"""Stored explorer outputs carry a static image of their first figure (course_tools.widget_snapshots)."""

from pathlib import Path

import nbformat
import pytest

from course_tools.widget_snapshots import (
    WIDGET_STATE,
    WIDGET_VIEW,
    add_static_images,
    first_image,
    widget_outputs,
)

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def model(name, **state):
    return {"model_name": name, "state": state}


def figure(text):
    return {"output_type": "display_data", "data": {"image/png": text, "text/plain": "<Figure>"}}


def notebook_with_explorer(state, model_id="box"):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("explorer")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        WIDGET_VIEW: {"model_id": model_id, "version_major": 2, "version_minor": 0}, "text/plain": "VBox()"})]
    notebook.cells.append(cell)
    notebook.metadata["widgets"] = {WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return notebook


EXPLORER_STATE = {
    "box": model("VBoxModel", children=["IPY_MODEL_controls", "IPY_MODEL_plot", "IPY_MODEL_table"],
                 layout="IPY_MODEL_layout"),
    "controls": model("HBoxModel", children=["IPY_MODEL_slider"]),
    "slider": model("IntSliderModel", value=3),
    "layout": model("LayoutModel"),
    "plot": model("OutputModel", outputs=[{"output_type": "stream", "name": "stdout", "text": "hi"},
                                          figure("FIRST")]),
    "table": model("OutputModel", outputs=[figure("SECOND")]),
}


def test_the_first_figure_in_display_order_is_found_through_nested_boxes():
    assert first_image(EXPLORER_STATE, "box") == "FIRST"
    assert first_image(EXPLORER_STATE, "table") == "SECOND"
    assert first_image(EXPLORER_STATE, "controls") is None
    assert first_image(EXPLORER_STATE, "not a model") is None


def test_a_widget_output_gets_the_image_and_keeps_its_widget_view():
    notebook = notebook_with_explorer(EXPLORER_STATE)
    assert add_static_images(notebook) == 1
    data = notebook.cells[0].outputs[0]["data"]
    assert data["image/png"] == "FIRST" and WIDGET_VIEW in data and data["text/plain"] == "VBox()"
    assert add_static_images(notebook) == 0, "a second pass must change nothing"


def test_a_widget_without_a_figure_or_without_saved_state_is_left_alone():
    empty = notebook_with_explorer({"box": model("VBoxModel", children=["IPY_MODEL_out"]),
                                    "out": model("OutputModel", outputs=[])})
    assert add_static_images(empty) == 0 and "image/png" not in empty.cells[0].outputs[0]["data"]
    stateless = notebook_with_explorer(EXPLORER_STATE)
    del stateless.metadata["widgets"]
    assert add_static_images(stateless) == 0


def test_a_cycle_in_the_state_does_not_hang():
    state = {"a": model("VBoxModel", children=["IPY_MODEL_b"]),
             "b": model("VBoxModel", children=["IPY_MODEL_a"])}
    assert first_image(state, "a") is None


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.stem)
def test_every_stored_explorer_shows_its_initial_figure_without_a_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for index, output in widget_outputs(notebook):
        model_id = output["data"][WIDGET_VIEW]["model_id"]
        assert model_id in state, f"cell {index}: the widget's state was not saved with the notebook"
        image = first_image(state, model_id)
        assert image is not None, f"cell {index}: the explorer shows no figure before it is used"
        assert output["data"].get("image/png") == image, (
            f"cell {index}: no static image; run python -m course_tools.widget_snapshots {path.name}")
