"""The backward slice the browser test uses: the cells an explorer cell needs, and no others."""

import nbformat
import pytest

from tests.notebook_slice import needed_cells, sliced_notebook


def run(sources):
    """Execute cells in one namespace; returns it (``result`` is what the last cell computed)."""
    namespace = {}
    for source in sources:
        exec("\n".join(line for line in source.splitlines() if not line.startswith("%")), namespace)
    return namespace


CELLS = [
    "%matplotlib inline\nimport math\nfrom collections import OrderedDict",
    "x = 1\nname = 'unused'",                        # 1: x bound afresh by 3
    "weights = [1.0, 2.0]",                          # 2
    "x = 2",                                         # 3
    "weights.append(math.pi)",                       # 4: changes weights in place
    "plot = sum(weights) * 100  # a figure the target does not need",
    "def scale(v):\n    return v * factor",          # 6: reads the global factor when called
    "factor = 10",                                   # 7
    "for name in ('a', 'b'):\n    print(name)",      # 8: reads only its own loop variable
    "y = x\ny = y + 1",                              # 9
    "y += 1",                                        # 10: reads y
    "weights.sort()\nlayers = OrderedDict(w=weights)",  # 11
    "result = {name: scale(layers['w'][0]) + y for name in ('k',)}",
]


def test_keeps_exactly_the_cells_the_target_reads_from_and_the_first():
    assert needed_cells(CELLS, [12]) == [0, 2, 3, 4, 6, 7, 9, 10, 11, 12]


def test_the_slice_computes_what_the_whole_notebook_computes():
    whole = run(CELLS)["result"]
    sliced = run([CELLS[index] for index in needed_cells(CELLS, [12])])["result"]
    assert sliced == whole == {"k": 14.0}


@pytest.mark.parametrize("earlier, kept", [
    ("x = f(x)", [0, 1, 2, 3]),            # reads the x before it
    ("if flag:\n    x = 2", [0, 1, 2, 3]),  # may not bind x: the x before it may be needed
    ("x = 3", [0, 2, 3]),                  # binds x afresh
    ("x.load_state_dict(state)", [0, 1, 2, 3]),
    ("x[0] = 5", [0, 1, 2, 3]),
    ("x.weight = w", [0, 1, 2, 3]),
    ("x.add_(1)", [0, 1, 2, 3]),
    ("x.eval()", [0, 1, 3]),               # explorers set the mode they need
    ("print(x.sum())", [0, 1, 3]),
])
def test_what_counts_as_binding_or_changing_a_name(earlier, kept):
    assert needed_cells(["import torch", "x = make()", earlier, "show(x)"], [3]) == kept


def test_a_module_call_does_not_change_the_module():
    cells = ["import torch", "torch.manual_seed(0)", "torch.zeros(2).add_(1)", "show(torch.ones(1))"]
    assert needed_cells(cells, [3]) == [0, 3]


def test_sliced_notebook_keeps_the_targets_outputs_and_drops_markdown():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import math"),
        nbformat.v4.new_markdown_cell("# words"),
        nbformat.v4.new_code_cell("r = 2"),
        nbformat.v4.new_code_cell("unused = 1"),
        nbformat.v4.new_code_cell("math.pi * r", outputs=[
            nbformat.v4.new_output("execute_result", {"text/plain": "6.28"})]),
    ])
    sliced = sliced_notebook(notebook, lambda cell: "pi" in cell.source)
    assert [cell.source for cell in sliced.cells] == ["import math", "r = 2", "math.pi * r"]
    assert sliced.cells[-1].outputs[0]["data"]["text/plain"] == "6.28"
    with pytest.raises(ValueError, match="no target cell"):
        sliced_notebook(notebook, lambda cell: False)
