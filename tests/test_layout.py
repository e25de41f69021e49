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


# The floors of the house, lowest first: a module imports its own floor and those below, never one
# above (alerts does not import reports, the store nothing of the features it serves).
LAYERS = (
    ("sentiment",),  # the model: nothing of ours
    ("listener.kernel",),  # times, text files, templates, signing, secrets, delivery errors, words
    ("listener.settings", "listener.brands", "listener.language"),  # what a configuration says
    ("listener.sources.base",),  # the contract of sources and the records they produce
    ("listener.store",),  # the one place SQL runs
    ("surveys", "listener.rules", "listener.cases", "listener.sources", "listener.themes"),  # features
    ("listener.alerts",),
    ("listener.learning", "listener.pipeline", "listener.reports", "listener.replies"),
    ("listener.config", "listener.app"),
    ("listener.jobs", "listener.web"),
    ("listener.cli", "listener.__main__"),
)


def floor(module: str) -> int:
    """The floor of a module: that of the longest package prefix named in LAYERS."""
    best = max(((len(package), level) for level, packages in enumerate(LAYERS) for package in packages
                if within(module, package)), default=None)
    assert best is not None, f"{module} is on no floor of LAYERS"
    return best[1]


def test_dependencies_point_down_the_floors():
    wrong = [f"{module} (floor {floor(module)}) imports {target} (floor {floor(target)})"
             for module, targets in import_graph().items() for target in targets if floor(target) > floor(module)]
    assert wrong == []


def test_the_floor_check_finds_an_upward_import():
    assert floor("listener.alerts.dispatch") > floor("listener.store.alerts") > floor("listener.kernel.times")
    assert floor("listener.sources.base") < floor("listener.sources.x")


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


SQL_CALLS = {"execute", "executemany", "executescript", "query"}


def sql_runs(path: Path) -> list[str]:
    """Where a file runs SQL: ``db.execute(...)``, ``app.db.query(...)``, ``db["table"]`` (sqlite-utils)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        receiver = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            receiver = node.func.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            receiver = node.value
        if receiver is not None and ast.unparse(receiver).split(".")[-1] in ("db", "conn", "connection"):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_sql_runs_only_in_the_store():
    """The store package holds every query (Datasette's canned queries, in config/, aside)."""
    store = REPO / "listener" / "store"
    assert [run for path in MODULES.values() if store not in path.parents for run in sql_runs(path)] == []
    assert sql_runs(store / "alerts.py")  # the check sees SQL where there is some


def test_every_registered_channel_keeps_the_contract_and_the_settings_know_it():
    from listener.alerts.channels.registry import CHANNELS, CONTRACT
    from listener.alerts.settings import CHANNEL_TYPES

    assert set(CHANNELS) == set(CHANNEL_TYPES)
    for kind, module in CHANNELS.items():
        assert module.TYPE == kind and [name for name in CONTRACT if not hasattr(module, name)] == []


def test_the_code_keeps_the_declared_lint_rules():
    """pyproject's [tool.ruff] rules (pyflakes, imports sorted, pycodestyle errors), on every file."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_models_runtime_imports_nothing_of_its_training():
    """Scoring must not need what training needs (peft, datasets, the recipes)."""
    graph = import_graph()
    found = [(module, target) for module, targets in graph.items() if within(module, "sentiment.runtime")
             for target in targets if within(target, "sentiment.training") or within(target, "sentiment.evaluation")]
    assert found == []
