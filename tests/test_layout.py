"""The house rules, checked: no import circles, the dependency direction, no private names across
modules, a small top level in listener/, and every registered source keeping the contract."""

import ast
from pathlib import Path

import pytest

from listener.sources.registry import CONTRACT, SOURCES, contract_problems

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("listener", "surveys", "sentiment")


def our_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = our_modules()


def imported(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """Our modules named by one import statement (from-imports of a module's names count as the module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    if node.level:
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        target = ".".join(package + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    names = [f"{target}.{alias.name}" for alias in node.names]
    return [name if name in MODULES else target for name in names if (name if name in MODULES else target) in MODULES]


def import_graph() -> dict[str, set[str]]:
    """Every import, at module level or inside a function: a lazy import is still a dependency."""
    graph = {}
    for module, path in MODULES.items():
        nodes = [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(n, (ast.Import, ast.ImportFrom))]
        graph[module] = {target for node in nodes for target in imported(module, node) if target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, found, counter = {}, {}, [], [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_there_are_no_import_circles():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_dependencies_point_one_way():
    """sentiment imports nothing of ours; the kernel nothing but itself; surveys may import sentiment
    and the kernel, nothing else of listener; listener orchestrates."""
    wrong = [(module, target) for module, targets in import_graph().items() for target in targets
             if (within(module, "sentiment") and not within(target, "sentiment"))
             or (within(module, "listener.kernel") and not within(target, "listener.kernel"))
             or (within(module, "surveys") and within(target, "listener") and not within(target, "listener.kernel"))]
    assert wrong == []


def test_no_private_name_is_imported_from_another_module():
    private = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                private += [f"{module}: {node.module}.{a.name}" for a in node.names
                            if a.name.startswith("_") and not a.name.startswith("__")]
    assert private == []


def test_listener_keeps_a_small_top_level():
    top = [p.name for p in (REPO / "listener").glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(top) <= 12, sorted(top)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_every_registered_source_keeps_the_contract(kind):
    assert SOURCES[kind].TYPE == kind
    assert contract_problems(SOURCES[kind]) == []


def test_the_contract_check_names_what_a_module_lacks():
    import types

    from listener.sources import x

    half = types.ModuleType("half")
    for name in CONTRACT:
        setattr(half, name, getattr(x, name))
    del half.Cursor
    assert contract_problems(half) == ["no Cursor"]
    half.Cursor, half.fetch = x.Cursor, lambda client, settings, query: iter(())
    assert contract_problems(half) == ["fetch does not take (client, settings, query, cursor, sleep)"]


REAL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
              ("time", "time"), ("time", "localtime"), ("time", "gmtime")}
CLOCK_HOME = REPO / "listener" / "kernel" / "times.py"  # utc_now: the one read of the real clock, a default only


def real_clock_reads(path: Path) -> list[str]:
    """``datetime.now()``, ``time.time()`` and the like in a file (durations, time.monotonic, are fine)."""
    return [f"{path.relative_to(REPO)}:{node.lineno}" for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and (node.func.value.id, node.func.attr) in REAL_CLOCK]


def test_only_one_function_reads_the_real_clock():
    """Code takes a ``now`` callable; tests hand in theirs, so no test depends on the day it runs."""
    reads = [read for path in MODULES.values() if path != CLOCK_HOME for read in real_clock_reads(path)]
    assert reads == []


def test_tests_read_the_real_clock_only_for_sqlite_now():
    """A test that needs the real time (SQL counting from SQLite's 'now') says so with utc_now; the
    command line is run through the ``ascolto`` fixture, which hands commands the test clock."""
    tests = [p for p in (REPO / "tests").rglob("*.py")]
    assert [read for path in tests for read in real_clock_reads(path)] == []
    direct = [str(p.relative_to(REPO)) for p in tests if "CliRunner()" in p.read_text(encoding="utf-8")
              and p.name != "cli.py" and p != Path(__file__)]
    assert direct == []
