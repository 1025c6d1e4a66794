"""The README and the program agree: every `tracer ...` command line the README shows, in its
code blocks and in its text, names a command that exists, and every flag it gives that command
is one its real --help lists (flags of the top-level `tracer` before the command, of the command
after it)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from tracer_cli.cli.app import app

Context = type(typer.main.get_command(app).make_context("tracer", ["--help"], resilient_parsing=True))

README = Path(__file__).resolve().parent.parent / "README.md"


def command_lines(text: str) -> list[str]:
    """Every `tracer ...` command line of the README: lines of its code blocks (after a `$ `
    prompt or a pipe), and inline code spans."""
    found = []
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    for block in blocks:
        for line in block.splitlines():
            for part in re.split(r"\s*(?:\||&&|;)\s*", line.split("  #")[0]):
                part = part.strip().removeprefix("$ ").strip()
                if part.startswith("tracer "):
                    found.append(part)
    outside = re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.S)
    for span in re.findall(r"`(tracer [^`]+)`", outside):
        found.append(span)
    return found


def flags_of(command: Any) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


def check(line: str, root: TyperGroup) -> list[str]:
    """What is wrong with one command line (nothing: an empty list)."""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    words = words[1:]  # "tracer"
    problems: list[str] = []
    command: Any = root
    top = flags_of(root)
    while words and words[0].startswith("-"):  # tracer --debug do ...
        flag = words.pop(0).split("=")[0]
        if flag not in top:
            problems.append(f"{flag} is not an option of tracer itself")
    while words and hasattr(command, "resolve_command"):  # a group (typer vendors its own click)
        if words[0].startswith("-"):
            break
        try:  # as the group itself routes it (`tracer logs last` is `tracer logs show last`)
            _, sub, rest = command.resolve_command(Context(command), list(words))
        except Exception:  # a usage error: no such command
            break
        if sub is None:
            break
        command, words = sub, list(rest)
    if command is root:
        if words and not words[0].startswith(("<", "{", "[")) and words[0].isidentifier():
            problems.append(f"no command {words[0]!r}")
        return problems
    known = flags_of(command)
    for word in words:
        if word == "--":
            break  # what follows belongs to another program (tracer sandbox exec NAME -- CMD)
        if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", word):
            flag = word.split("=")[0]
            if flag not in known:
                problems.append(f"{flag} is not an option of `tracer {command.name}`")
    return problems


def test_every_command_line_of_the_readme_exists() -> None:
    root = typer.main.get_command(app)
    lines = command_lines(README.read_text(encoding="utf-8"))
    assert len(lines) > 100  # the README shows many: the extraction works
    wrong = {line: p for line in lines if (p := check(line, root))}  # type: ignore[arg-type]
    assert wrong == {}, "\n".join(f"{line}\n    {'; '.join(p)}" for line, p in wrong.items())


@pytest.mark.parametrize(("line", "problem"), [
    ("tracer do 'x' --nonsense", "--nonsense is not an option of `tracer do`"),
    ("tracer do 'x' --debug", "--debug is not an option of `tracer do`"),
    ("tracer frobnicate", "no command 'frobnicate'"),
    ("tracer --verbose do x", "--verbose is not an option of tracer itself"),
])
def test_the_check_finds_what_does_not_exist(line: str, problem: str) -> None:
    assert problem in check(line, typer.main.get_command(app))  # type: ignore[arg-type]


def test_the_check_passes_what_exists() -> None:
    root = typer.main.get_command(app)
    for line in ("tracer --debug do 'x' --yes --events jsonl", "tracer logs report last --open",
                 "tracer sandbox exec sb1 -- xdotool search --name Firefox",
                 "tracer models pull qwen3-vl-4b-instruct"):
        assert check(line, root) == [], line  # type: ignore[arg-type]


def test_every_flag_in_the_readmes_flag_tables_is_a_flag_of_tracer_do() -> None:
    """The README's `| flag | meaning |` tables list `tracer do`'s flags (the local model's and
    the run's): each one is an option of `tracer do` (a flag of `tracer` itself is written
    before the command, `tracer --debug do ...`, and is not a `do` flag)."""
    root = typer.main.get_command(app)
    known = flags_of(root.get_command(Context(root), "do"))
    text = README.read_text(encoding="utf-8")
    tables = re.findall(r"^\| flag \| meaning \|\n\| --- \| --- \|\n((?:\|.*\n)+)", text, re.M)
    assert len(tables) >= 2
    named = [flag for table in tables for row in table.splitlines()
             for cell in [row.split("|")[1]] if "tracer " not in cell
             for flag in re.findall(r"`(--?[A-Za-z][\w-]*)", cell)]
    assert len(named) > 20
    assert [flag for flag in named if flag not in known] == []


# A measured figure: a decimal with a unit (1.3 s, 44.2 s, 2.32 GiB, 1.6x) or milliseconds.
FIGURE = re.compile(r"(?<![\w.])\d+(?:,\d{3})*\.\d+ ?(?:ms|s|min|MB|GB|GiB|KB|x)\b|(?<![\w.])\d+ ?ms\b")
# Where a figure comes from: a benchmark or test of this repository, named by path or module.
SOURCE = re.compile(r"tests/[\w/]+\.py|tests\.benchmarks\.\w+")


def sections(text: str) -> list[tuple[str, str]]:
    """The README cut at its headings (those outside code blocks): (heading, text) pairs."""
    parts: list[tuple[str, str]] = []
    heading, lines, fenced = "(top)", [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,4} ", line):
            parts.append((heading, "\n".join(lines)))
            heading, lines = line, []
        lines.append(line)
    parts.append((heading, "\n".join(lines)))
    return parts


def download_sizes() -> set[str]:
    """The catalogue's download sizes as the README writes them (model + projector, in GB)."""
    from tracer_cli.models import catalogue

    return {f"{spec.size() / 1e9:.1f} GB" for spec in catalogue().values() if spec.size()}


def unsourced(text: str) -> dict[str, list[str]]:
    """The sections that quote measured figures but name no benchmark or test that makes them
    (a download size is the catalogue's, checked by the test below)."""
    sizes = download_sizes()
    wrong = {}
    for heading, body in sections(text):
        figures = [f for f in FIGURE.findall(body) if f not in sizes]
        if figures and not SOURCE.search(body):
            wrong[heading] = figures
    return wrong


def test_every_measured_figure_names_the_benchmark_or_test_that_makes_it() -> None:
    text = README.read_text(encoding="utf-8")
    assert sum(len(FIGURE.findall(body)) for _, body in sections(text)) > 60  # found many
    assert unsourced(text) == {}
    root = README.parent
    named = set(SOURCE.findall(text))
    missing = [n for n in named if not (root / n).is_file()
               and not (root / (n.replace(".", "/") + ".py")).is_file()]
    assert len(named) >= 10 and missing == []


def test_the_figures_check_finds_a_figure_without_its_source() -> None:
    text = "## Speed\n\nA step takes 41.5 s on two cores.\n\n## Fine\n\nIt takes 12 ms " \
           "(`python tests/benchmarks/step_overhead.py`).\n"
    assert unsourced(text) == {"## Speed": ["41.5 s"]}
    assert unsourced("```\n# not a heading: 3.5 s\n```\n") == {"(top)": ["3.5 s"]}


def test_the_catalogue_table_gives_each_models_download_size() -> None:
    from tracer_cli.models import catalogue

    text = README.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([\w.-]+)`(?: \(default[\w ]*\))? \|.*\| ~?([\d.]+ GB) \|$", text, re.M))
    specs = catalogue()
    assert set(rows) == set(specs)
    for name, spec in specs.items():
        if spec.size():
            assert rows[name] == f"{spec.size() / 1e9:.1f} GB", name
