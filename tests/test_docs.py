"""The documentation matches the commands: every option in a --help is on its page, every command
the pages show exists, every generated block has its writer, and README stays a front door."""

import contextlib
import importlib
import importlib.util
import io
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
# each command (console script or ``python -m`` module) → the page that documents its options
PAGE_OF = {
    "fmnist-train": "train.md", "fmnist-runs": "train.md", "fmnist-sweep": "sweep.md",
    "fmnist-export": "export.md", "fmnist-predict": "runtime.md", "fmnist-doctor": "runtime.md",
    "fmnist-bench": "benchmarks.md", "fmnist-serve": "serve.md",
    "fmnist_edge.benchmarks.serving.cli": "serve.md",
    "fmnist_edge.benchmarks.overhead": "runtime.md", "fmnist_edge.benchmarks.fuzz": "runtime.md",
    "fmnist_edge.benchmarks.engines": "runtime.md", "fmnist_edge.benchmarks.cold": "runtime.md",
    "fmnist_edge.benchmarks.layers": "benchmarks.md", "fmnist_edge.benchmarks.pi.check": "pi.md",
    "fmnist_edge.benchmarks.on_device": "pi.md",
}


def _main(command: str):
    target = SCRIPTS.get(command, f"{command}:main")
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def help_options(command: str) -> set[str]:
    """The long options ``command --help`` prints (``--help`` itself aside)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        _main(command)(["--help"])
    assert exit_info.value.code == 0
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", out.getvalue())) - {"--help"}


def code_of(text: str) -> str:
    """Fenced blocks and inline code spans: where the pages show commands."""
    fences = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join(fences + spans)


def test_every_console_script_has_a_page():
    assert set(SCRIPTS) <= set(PAGE_OF)


@pytest.mark.parametrize("command", sorted(PAGE_OF))
def test_every_option_of_a_command_is_on_its_page(command):
    page = (DOCS / PAGE_OF[command]).read_text()
    missing = sorted(o for o in help_options(command) if f"`{o}" not in page)
    assert missing == [], f"{command}: options missing from docs/{PAGE_OF[command]}"


def test_every_command_the_pages_show_exists():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"(?m)^([a-z][a-z-]*):", makefile))
    problems = []
    for page in PAGES:
        code = code_of(page.read_text())
        for name in set(re.findall(r"(?<![\w./-])fmnist-[a-z]+(?![\w-])", code)):
            if name not in SCRIPTS and name != "fmnist-edge":
                problems.append(f"{page.name}: no command {name}")
        for target in set(re.findall(r"(?:^|[\s(])make ([a-z][a-z-]*)", code, flags=re.M)):
            if target not in targets:
                problems.append(f"{page.name}: no make target {target}")
        for module in set(re.findall(r"python -m (fmnist_edge[\w.]*)", code)):
            if importlib.util.find_spec(module) is None:
                problems.append(f"{page.name}: no module {module}")
    assert problems == []


def test_every_generated_block_is_written_by_a_command_that_names_its_page():
    """A block moved to another page must move in the command that writes it too."""
    writers = (REPO / "Makefile").read_text() + "".join(p.read_text() for p in PAGES)
    for page in PAGES:
        rel = page.relative_to(REPO).as_posix()
        for name in re.findall(r"<!-- ([a-z-]+):begin -->", page.read_text()):
            flag = f"--update-readme {rel}"
            assert flag in writers, f"{rel}: block {name!r} has no writer with {flag}"


def test_readme_is_a_front_door():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for page in DOCS.glob("*.md"):
        assert f"(docs/{page.name}" in text, f"README does not link docs/{page.name}"
    for link in re.findall(r"\]\(((?:\.\./|docs/)?[\w./-]+\.md)(?:#[\w-]+)?\)", "".join(
            p.read_text() for p in PAGES)):
        assert any((base / link).resolve().is_file() for base in (REPO, DOCS)), link


def test_the_layout_page_names_every_folder_and_extra():
    """docs/layout.md stays the map: each package folder of pyproject.toml (``train/``,
    ``sweep/``, ``serving/``…), each symlink of fmnist_edge/, and each extra (``[serve]``)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    page = (DOCS / "layout.md").read_text()
    folders = project["tool"]["setuptools"]["package-dir"].values()
    missing = [f"{folder}/" for folder in folders
               if folder != "fmnist_edge" and f"{Path(folder).name}/" not in page]
    missing += [f"[{extra}]" for extra in project["project"]["optional-dependencies"]
                if f"`[{extra}]`" not in page]
    links = {p.name for p in (REPO / "fmnist_edge").iterdir() if p.is_symlink()}
    named = re.search(r"fmnist_edge/\{([a-z,]+)\}", page)
    missing += sorted(links - set(named.group(1).split(",") if named else ()))
    assert missing == [], f"docs/layout.md does not name {missing}"


def test_make_rewrites_tracked_files_only_when_asked():
    """make run and make test leave the checkout clean: every block a make target writes is
    behind UPDATE_DOCS (make docs sets it), and .ci/run checks git status after make test."""
    makefile = (REPO / "Makefile").read_text()
    guard = "$(if $(UPDATE_DOCS),"
    flags = re.findall(f"(.{{{len(guard)}}})--update-readme", makefile)
    assert flags and all(f == guard for f in flags), flags
    assert "UPDATE_DOCS=1" in re.search(r"(?m)^docs:\n(\t.*\n)+", makefile).group(0)
    assert "git status --porcelain" in (REPO / ".ci" / "run").read_text()


def test_the_gate_minimums_in_the_docs_are_the_baselines():
    """docs/benchmarks.md's table of speed minimums per CPU class, row by row, equals
    benchmarks/baseline.json (it had drifted: x86-amx 1.8/3.6/3.8/30 against 1.3/3.0/3.2/24)."""
    import json

    ratios = json.loads((REPO / "benchmarks" / "baseline.json").read_text())["ratios"]
    page = (DOCS / "benchmarks.md").read_text()
    table = re.search(r"\| ratio \(tutorial CNN, 1 thread\) \| ([\w-]+) \| ([\w-]+) \|\n\|[-:|]+\|\n((?:\|.*\n)+)",
                      page)
    classes, rows = table.group(1, 2), table.group(3).strip().splitlines()
    shown = [[float(v) for v in row.strip("|").split("|")[1:]] for row in rows]
    assert shown == [[r["min"][c] for c in classes] for r in ratios]
