"""The shape of the code: no import cycles among the project's modules, and a domain core that knows no door.

Every module under portal/ and scim_blueprint/ is parsed with ``ast`` (nothing is imported). Each import
statement counts, at module level or inside a function, relative ones resolved; only imports under
``if TYPE_CHECKING:`` are left out of the cycle check, since they never run. An import names one module:
``from portal.core import admin_log`` is an edge to portal.core.admin_log, ``from portal.models import Admin``
one to portal.models; the parent packages a dotted import also runs are not edges of their own.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("portal", "scim_blueprint")
#: what the domain core never imports: the doors and the console's session machinery
CORE_MUST_NOT_IMPORT = ("portal.views", "portal.api", "flask_login", "scim_blueprint")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    """Module name -> source file, for every module of the project's packages."""
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skipped.update(id(sub) for sub in ast.walk(child) if isinstance(sub, (ast.Import, ast.ImportFrom)))
    return skipped


def _imported_names(module: str, path: Path, tree: ast.AST) -> list[tuple[ast.stmt, list[str]]]:
    """Each import statement of the file with the fully qualified names it imports."""
    is_package = path.name == "__init__.py"
    found: list[tuple[ast.stmt, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.append((node, [alias.name for alias in node.names]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # The package the dots count up from: the module's own package, then its parents.
                package = module.split(".") if is_package else module.split(".")[:-1]
                base_parts = package[: len(package) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((node, [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]))
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module ``name`` is or lies in (``portal.models.Admin`` -> portal.models), or None."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(*, with_type_checking: bool = False) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = set() if with_type_checking else _type_checking_only(tree)
        for node, names in _imported_names(module, path, tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                base, members = names[0], names[1:]
                # `from pkg import sub` imports the submodule when there is one; any other name is pkg's own.
                targets = {m if m in modules else _resolve(base, modules) for m in members}
                if not members:  # from pkg import *
                    targets.add(_resolve(base, modules))
            else:
                targets = {_resolve(name, modules) for name in names}
            graph[module].update(t for t in targets if t is not None and t != module)
    return graph


def external_imports(module: str) -> set[str]:
    """Every name a project module imports, fully qualified, TYPE_CHECKING imports included."""
    modules = _modules()
    path = modules[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {name for _, names in _imported_names(module, path, tree) for name in names if name}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The components of more than one module (or one importing itself): each holds a cycle. Tarjan's."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        # Iterative, so a long chain of imports cannot hit the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    components.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return components


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One shortest cycle through the component's first module: a -> b -> ... -> a."""
    inside = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & inside):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    return component  # cannot happen: a component of more than one module holds a cycle through each member


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    graph = import_graph()
    assert "portal.extensions" in graph["portal"]  # from .extensions import ... (relative)
    assert "portal.cli" in graph["portal"]  # from portal import cli, inside create_app
    assert "portal.core.administrators" in graph["portal.views.administrators"]
    assert "portal.models" in graph["portal.core.admin_log"]


def test_no_import_cycles_in_portal_and_scim_blueprint() -> None:
    graph = import_graph()
    cycles = [
        " -> ".join(a_cycle(graph, component)) + f"   (tangled: {', '.join(component)})"
        for component in strongly_connected(graph)
    ]
    for cycle in cycles:
        print("import cycle:", cycle)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_the_core_never_imports_a_door_or_flask_login() -> None:
    offences = []
    for module in sorted(_modules()):
        if module == "portal.core" or module.startswith("portal.core."):
            for name in sorted(external_imports(module)):
                if any(name == banned or name.startswith(banned + ".") for banned in CORE_MUST_NOT_IMPORT):
                    offences.append(f"{module} imports {name}")
    assert offences == []


def test_the_cycle_finder_names_each_tangle_and_one_cycle_in_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"d"}}
    assert strongly_connected(graph) == [["a", "b", "c"], ["e"]]
    assert a_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
