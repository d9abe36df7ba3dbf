"""The cells a notebook's explorer needs: a backward slice over the names cells bind and use.

The browser test runs, for each lesson, its explorer cells and the cells they depend on, not
the whole lesson: nbval already runs every cell, and the browser test is about the widgets.
A cell is needed when it binds a name that a needed cell reads; binding includes changing an
object in place (``model.load_state_dict(...)``, ``x[0] = 1``, ``model.weight = ...``), so a
cell that loads weights into a model stays in. Names read inside functions count as read where
the function is called (any later cell). The first code cell (imports, settings) is always kept.
"""

import ast
import builtins
import symtable

import nbformat

BUILTINS = frozenset(dir(builtins))


def python_source(cell_source):
    """The cell's source without IPython magics and shell escapes (``%...``, ``!...``)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in cell_source.splitlines())


# Methods that may change their object (PyTorch's in-place ``add_``... end with an underscore).
# A model's ``eval()``/``train()`` do not count: explorers set the mode they need themselves.
CHANGING_METHODS = frozenset({
    "append", "extend", "insert", "update", "pop", "popitem", "clear", "remove", "setdefault", "add",
    "discard", "sort", "reverse", "load_state_dict", "to", "apply",
    "register_forward_hook", "register_buffer", "register_parameter", "add_module", "fill", "resize",
    "put", "itemset", "setflags", "seed", "shuffle"})


def _root_name(node):
    """The variable at the bottom of ``a.b[c].d``, or None."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _outright(statement):
    """Names an unconditional top-level statement binds afresh, whatever they held before."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, (ast.AnnAssign, ast.For)):
        targets = [statement.target]  # a loop's body reads its loop variables' new values
    elif isinstance(statement, ast.With):
        targets = [item.optional_vars for item in statement.items if item.optional_vars]
    else:
        return set()
    return {node.id for target in targets if not isinstance(target, (ast.Attribute, ast.Subscript))
            for node in ast.walk(target) if isinstance(node, ast.Name)}


def _changes(statement):
    """Names whose objects a top-level statement may change in place: ``x.a = ...``, ``x[i] = ...``,
    ``del x[i]``, ``x.append(...)``, ``x.eval()``, ``x.add_(...)``."""
    changed = set()
    for node in ast.walk(statement):
        if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            changed.add(_root_name(node))
        elif isinstance(node, ast.AugAssign):
            changed.add(_root_name(node.target))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr in CHANGING_METHODS or node.func.attr.endswith("_")):
            changed.add(_root_name(node.func.value))
    return changed - {None}


def _module_reads(table):
    """Module-level names a symbol table reads: at module level, and as globals in its functions,
    lambdas, classes and comprehensions (their own locals excluded)."""
    reads = set()
    for symbol in table.get_symbols():
        at_module = table.get_type() == "module"
        if symbol.is_referenced() and (at_module or symbol.is_global()):
            reads.add(symbol.get_name())
    for child in table.get_children():
        reads |= _module_reads(child)
    return reads


def _reads(nodes):
    """Module-level names that the statements or expressions ``nodes`` read."""
    module = ast.Module(body=[node if isinstance(node, ast.stmt) else ast.Expr(node) for node in nodes],
                        type_ignores=[])
    return _module_reads(symtable.symtable(ast.unparse(module), "<cell>", "exec"))


def _outside_reads(statement):
    """Names a top-level statement reads from before it (a loop's body reads its own variables)."""
    if isinstance(statement, ast.For):
        return _reads([statement.iter]) | (_reads(statement.body + statement.orelse) - _outright(statement))
    return _reads([statement])


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def cell_names(cell_source):
    """(outright, bound, changed, read, deferred) names of one code cell: names it binds afresh,
    names it binds at all (in loops, branches...), names whose objects it may change, names it
    reads from the cells before it, and names its functions and classes read when they are used
    (in a later cell, maybe); a cell that does not parse has none."""
    try:
        tree = ast.parse(python_source(cell_source))
    except SyntaxError:
        return set(), set(), set(), set(), set()
    outright, bound, changed, read, deferred = set(), set(), set(), set(), set()
    for statement in tree.body:
        if isinstance(statement, DEFINITIONS):
            deferred |= _reads([statement]) - {statement.name}
        else:
            read |= _outside_reads(statement) - outright
            changed |= _changes(statement)
            bound |= {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)
                      and isinstance(node.ctx, ast.Store)}
        outright |= _outright(statement)
    return outright, bound | outright, changed, read - BUILTINS, deferred - BUILTINS


def needed_cells(sources, targets):
    """Indices (sorted) of the code cells in ``sources`` that the cells ``targets`` need, targets
    and the first cell included."""
    names = [cell_names(source) for source in sources]
    imported = names[0][1] if names else set()
    called_later = set()  # what needed functions read: needed as of the last target
    while True:
        keep = set(targets) | {0}
        wanted = called_later.union(*(names[index][3] | names[index][4] for index in keep))
        deferred = set()
        for index in range(max(targets) - 1, 0, -1):
            outright, bound, changed, read, later = names[index]
            changed = changed - imported  # torch.manual_seed(0) does not change what torch is
            if index in keep or not wanted & (bound | changed):
                continue
            keep.add(index)
            wanted -= outright - changed - read  # bound afresh here: what earlier cells bound is not needed
            wanted |= read | changed
            deferred |= later
        if deferred <= called_later:
            return sorted(keep)
        called_later |= deferred


def sliced_notebook(notebook, is_target):
    """A copy of ``notebook`` with only the code cells that the cells where ``is_target(cell)`` need
    (their outputs kept); markdown cells are dropped."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    targets = [index for index, cell in enumerate(code) if is_target(cell)]
    if not targets:
        raise ValueError("no target cell in the notebook")
    sliced = nbformat.v4.new_notebook(metadata=notebook.metadata)
    sliced.cells = [code[index] for index in needed_cells([cell.source for cell in code], targets)]
    return sliced
