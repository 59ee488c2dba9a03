"""One home per rule: only runtime/system.py reads /proc/cpuinfo or looks versions up, and only
fmnist_edge/reports.py writes a markdown report; a second home added anywhere breaks this test.

lint-imports sees modules, not what they do, so this reads every module's syntax tree. The last
tests add a module that breaks each rule and check that the scan names it.
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("fmnist_edge", "train", "export", "runtime", "benchmarks", "serve")
CPUINFO_HOME = VERSIONS_HOME = "runtime/system.py"
REPORTS_HOME = "fmnist_edge/reports.py"
WRITERS = {"write_text", "write_bytes", "write_json", "atomic_path", "open", "dump"}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant):
            found.add(id(body[0].value))
    return found


def _strings(node: ast.AST, skip: set[int] = frozenset()) -> list[str]:
    return [n.value for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip]


def _called(node: ast.AST) -> set[str]:
    return {(c.func.attr if isinstance(c.func, ast.Attribute) else getattr(c.func, "id", ""))
            for c in ast.walk(node) if isinstance(c, ast.Call)}


def _version_import(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name in ("importlib.metadata", "importlib_metadata") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return (node.module in ("importlib.metadata", "importlib_metadata")
                or node.module == "importlib" and any(a.name == "metadata" for a in node.names))
    return False


def offenders(sources: dict[str, str]) -> list[str]:
    """``path: rule`` for each module (path relative to the repo → source) that breaks a rule."""
    found = []
    for path, source in sorted(sources.items()):
        tree = ast.parse(source)
        if path != CPUINFO_HOME and any("/proc/cpuinfo" in s for s in _strings(tree, _docstrings(tree))):
            found.append(f"{path}: reads /proc/cpuinfo (use fmnist_edge.runtime.system)")
        if path != VERSIONS_HOME and any(_version_import(n) for n in ast.walk(tree)):
            found.append(f"{path}: looks installed versions up (use runtime.system.installed_version)")
        if path != REPORTS_HOME:
            for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
                if WRITERS & _called(fn) and any(s.endswith(".md") for s in _strings(fn)):
                    found.append(f"{path}:{fn.lineno} {fn.name}: writes a markdown report "
                                 "(use fmnist_edge.reports)")
    return found


def project_sources() -> dict[str, str]:
    return {str(p.relative_to(REPO)): p.read_text() for folder in FOLDERS
            for p in sorted((REPO / folder).rglob("*.py"))}


def test_each_rule_has_one_home_in_the_checkout():
    sources = project_sources()
    assert {CPUINFO_HOME, REPORTS_HOME, "benchmarks/device.py"} <= set(sources)
    assert offenders(sources) == []


def test_a_second_cpuinfo_reader_is_caught():
    leak = 'def cores():\n    """Counts /proc/cpuinfo lines."""\n    return open("/proc/cpuinfo").read()\n'
    assert offenders({"export/leak.py": leak}) == [
        "export/leak.py: reads /proc/cpuinfo (use fmnist_edge.runtime.system)"]
    assert offenders({CPUINFO_HOME: leak}) == []


def test_a_second_version_lookup_is_caught():
    for leak in ("from importlib import metadata\n", "import importlib.metadata as m\n",
                 "from importlib.metadata import version\n"):
        assert offenders({"benchmarks/leak.py": leak}) == [
            "benchmarks/leak.py: looks installed versions up (use runtime.system.installed_version)"]


def test_a_second_report_writer_is_caught():
    leak = ("from fmnist_edge.runtime import atomic\n\n"
            "def write(out, report):\n"
            "    path = out / 'speed.md'\n"
            "    atomic.write_text(path, report)\n")
    assert offenders({"benchmarks/leak.py": leak}) == [
        "benchmarks/leak.py:3 write: writes a markdown report (use fmnist_edge.reports)"]
    reading = "def read(out):\n    return (out / 'speed.md').read_text()\n"
    assert offenders({"benchmarks/leak.py": reading}) == []
