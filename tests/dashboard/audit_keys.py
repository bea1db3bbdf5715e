"""Every key an `audit_log(changes=…)` call of the code can write, found by reading the source.

`audit_change_keys(root)` parses every module of the package and, for each call of
`audit_log`, the expression given as `changes`: a dict literal (with `**` parts), a name
assigned in the same function (also `name[key] = …`, `name.update(…)`, `name |= …`), a
module-level constant, `changed_fields(before, after)` (the keys of `after`), `dict(…)`,
`dict.fromkeys(SEQUENCE)`, a dict comprehension over a sequence of strings or over
`something.items()`, or a call of a function of the same module (the keys of what it
returns). A call whose keys cannot be told that way is listed in `unresolved`: the test then
asks for the keys to be written so they can be read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Found:
    keys: dict[str, set[str]] = field(default_factory=dict)  # key -> "file:line" of the call
    unresolved: list[str] = field(default_factory=list)  # "file:line: what"


class _Module:
    def __init__(self, path: Path, root: Path) -> None:
        self.name = str(path.relative_to(root))
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.functions = {
            node.name: node
            for node in self.tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.constants: dict[str, ast.expr] = {}
        for node in self.tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.constants[target.id] = node.value
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.value is not None
            ):
                self.constants[node.target.id] = node.value

    def enclosing(self, node: ast.AST) -> ast.AST:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                return node
        return self.tree


class _Unresolved(Exception):
    pass


def _strings(node: ast.expr, module: _Module, scope: ast.AST) -> set[str]:
    """The strings a sequence expression holds (a tuple/list/set of constants, or a name)."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        values = set()
        for item in node.elts:
            if isinstance(item, ast.Constant) and isinstance(item.value, str):
                values.add(item.value)
            elif isinstance(item, ast.Starred):
                values |= _strings(item.value, module, scope)
            else:
                raise _Unresolved(ast.unparse(item))
        return values
    if isinstance(node, ast.Name) and node.id in module.constants:
        return _strings(module.constants[node.id], module, module.tree)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _strings(node.left, module, scope) | _strings(node.right, module, scope)
    raise _Unresolved(ast.unparse(node))


def _slice_keys(node: ast.expr, module: _Module, scope: ast.AST) -> set[str]:
    """The keys `changes[<node>] = …` writes: a string, or a look-up in a module-level dict
    of strings (`changes[KEY_CHANGES[slot]]`: every value of KEY_CHANGES)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and isinstance(module.constants.get(node.value.id), ast.Dict)
    ):
        table = module.constants[node.value.id]
        assert isinstance(table, ast.Dict)
        return _strings(ast.List(elts=list(table.values)), module, scope)
    raise _Unresolved(ast.unparse(node))


def _nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `scope`, not those of the functions defined inside it."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _keys(node: ast.expr, module: _Module, scope: ast.AST, depth: int = 0) -> set[str]:
    if depth > 8:
        raise _Unresolved(ast.unparse(node))
    if isinstance(node, ast.Constant) and node.value is None:
        return set()
    if isinstance(node, ast.Dict):
        keys: set[str] = set()
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                keys |= _keys(value, module, scope, depth + 1)
            elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                keys.add(key.value)
            else:
                raise _Unresolved(ast.unparse(key))
        return keys
    if isinstance(node, ast.DictComp):
        key = node.key
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return {key.value}
        (generator,) = node.generators
        target = generator.target
        iterable = generator.iter
        if isinstance(target, ast.Tuple):
            target = target.elts[0]
        if not (isinstance(key, ast.Name) and isinstance(target, ast.Name) and key.id == target.id):
            raise _Unresolved(ast.unparse(node))
        if (
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Attribute)
            and iterable.func.attr in {"items", "keys"}
        ):
            return _keys(iterable.func.value, module, scope, depth + 1)
        return _strings(iterable, module, scope)
    if isinstance(node, ast.IfExp):
        return _keys(node.body, module, scope, depth + 1) | _keys(
            node.orelse, module, scope, depth + 1
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _keys(node.left, module, scope, depth + 1) | _keys(
            node.right, module, scope, depth + 1
        )
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else ""
        if name == "changed_fields":
            return _keys(node.args[1], module, scope, depth + 1)
        if name == "dict":
            keys = {keyword.arg for keyword in node.keywords if keyword.arg}
            for arg in node.args:
                keys |= _keys(arg, module, scope, depth + 1)
            return keys
        if isinstance(func, ast.Attribute) and func.attr == "fromkeys":
            return _strings(node.args[0], module, scope)
        if name in module.functions:
            function = module.functions[name]
            keys = set()
            returns = [
                sub for sub in ast.walk(function) if isinstance(sub, ast.Return) and sub.value
            ]
            if not returns:
                raise _Unresolved(ast.unparse(node))
            for ret in returns:
                keys |= _keys(ret.value, module, function, depth + 1)  # type: ignore[arg-type]
            return keys
        raise _Unresolved(ast.unparse(node))
    if isinstance(node, ast.Name):
        keys = set()
        found = False
        for sub in _nodes(scope):
            if isinstance(sub, ast.Assign):
                for target in sub.targets:
                    if isinstance(target, ast.Name) and target.id == node.id:
                        found = True
                        keys |= _keys(sub.value, module, scope, depth + 1)
                    elif (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == node.id
                    ):
                        found = True
                        keys |= _slice_keys(target.slice, module, scope)
            elif isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name):
                if sub.target.id == node.id and sub.value is not None:
                    found = True
                    keys |= _keys(sub.value, module, scope, depth + 1)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                if sub.target.id == node.id:
                    keys |= _keys(sub.value, module, scope, depth + 1)
            elif (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and isinstance(sub.func.value, ast.Name)
                and sub.func.value.id == node.id
                and sub.func.attr in {"update", "setdefault"}
            ):
                if sub.func.attr == "setdefault":
                    arg = sub.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        keys.add(arg.value)
                    else:
                        raise _Unresolved(ast.unparse(sub))
                else:
                    keys |= {keyword.arg for keyword in sub.keywords if keyword.arg}
                    for arg in sub.args:
                        keys |= _keys(arg, module, scope, depth + 1)
        if not found:
            if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
                params = {arg.arg for arg in [*scope.args.args, *scope.args.kwonlyargs]}
                if node.id in params:
                    raise _Unresolved(f"{node.id} (a parameter)")
            if node.id in module.constants:
                return _keys(module.constants[node.id], module, module.tree, depth + 1)
            raise _Unresolved(node.id)
        return keys
    raise _Unresolved(ast.unparse(node))


def audit_change_keys(root: Path, package: str = "ioportal") -> Found:
    found = Found()
    for path in sorted((root / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = _Module(path, root)
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called != "audit_log":
                continue
            where = f"{module.name}:{node.lineno}"
            changes = next((k.value for k in node.keywords if k.arg == "changes"), None)
            if changes is None:
                if any(k.arg is None for k in node.keywords):
                    found.unresolved.append(f"{where}: **kwargs")
                continue
            try:
                keys = _keys(changes, module, module.enclosing(node))
            except _Unresolved as error:
                found.unresolved.append(f"{where}: {error}")
                continue
            for key in keys:
                found.keys.setdefault(key, set()).add(where)
    return found
