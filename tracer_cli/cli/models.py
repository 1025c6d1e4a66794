"""`tracer models ...`: list, pull, add, info, rm, path. Thin, like cli.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from tracer_cli import models as m
from tracer_cli.cli.console import err, guard, out
from tracer_cli.errors import EXIT_NEEDS_HUMAN, TracerError

app = typer.Typer(help="Local models: the catalogue, downloads and your own GGUF files.",
                  no_args_is_help=True)


def _size(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e9:.2f} GB"


@app.command("list")
def list_models() -> None:
    """The catalogue and your registered models, with what is installed."""
    with guard():
        from rich.text import Text

        specs = sorted(m.known().items())
        default = m.default_model()
        names = {name: name + (" (default)" if name == default else "") for name, _ in specs}
        table = Table(title=f"Models (downloads in {m.models_dir()})", title_justify="left")
        # a name never wraps or truncates; the description under it wraps instead
        table.add_column("name / description", min_width=max(map(len, names.values()), default=4))
        for col in ("source", "profile", "size", "installed"):
            table.add_column(col, no_wrap=True)
        for name, spec in specs:
            cell = Text(names[name], style="bold")
            if spec.description:
                cell.append("\n" + spec.description, style="dim")
            table.add_row(cell, spec.source, spec.profile, _size(spec.size()),
                          "yes" if spec.installed() else "no")
        out.print(table)


def _bars(progress: Progress) -> Callable[[str, int, int], Callable[[int], None]]:
    def start(label: str, total: int, done: int) -> Callable[[int], None]:
        task = progress.add_task(label, total=total or None, completed=done)
        return lambda n: progress.advance(task, n)

    return start


class NotDownloaded(TracerError):
    """An offer to download was declined (now or before), or there was no one to ask."""

    exit_code = EXIT_NEEDS_HUMAN


def offer(spec: m.ModelSpec) -> None:
    """Ask whether to download ``spec`` (its size and the time it takes); raise NotDownloaded
    when the answer is no (remembered), when an earlier no or an unreachable Hub still stands,
    or when no one can answer (standard input is not a terminal)."""
    from tracer_cli import download_choices as choices

    standing = choices.standing(spec.name)
    if standing:
        raise NotDownloaded(standing)
    if not sys.stdin.isatty():
        raise NotDownloaded(f"not downloading {spec.name} ({choices.estimate(spec.size())}) "
                            "without asking, and there is no terminal to ask at",
                            f"tracer models pull {spec.name} downloads it")
    if not typer.confirm(f"Download {spec.name} from {spec.repo} "
                         f"({choices.estimate(spec.size())})?", default=False, err=True):
        choices.remember(spec.name, choices.DECLINED)
        raise NotDownloaded(f"not downloading {spec.name}; the next offer will not ask again",
                            f"tracer models pull {spec.name} gets it")


def download(spec: m.ModelSpec, endpoint: str | None = None, force: bool = False) -> list[Path]:
    """Download ``spec`` with progress bars; an unreachable Hub is remembered (see offer)."""
    from tracer_cli import download_choices as choices
    from tracer_cli.download import HubUnreachable
    from tracer_cli.download import pull as do_pull

    err.print(f"pulling {spec.name} from {spec.repo} ({_size(spec.size())}) into "
              f"{spec.local_dir()}")
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            paths = do_pull(spec, endpoint=endpoint, force=force, progress=_bars(progress))
    except HubUnreachable:
        choices.remember(spec.name, choices.UNREACHABLE)
        raise
    choices.forget(spec.name)
    err.print(f"{spec.name} is ready: tracer do \"...\" --model {spec.name}")
    return paths


@app.command()
def pull(
    name: Annotated[str, typer.Argument(help="Catalogue name (see `tracer models list`).")],
    force: Annotated[bool, typer.Option("--force", help="Download again even if present.")] = False,
    endpoint: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--endpoint", help="Hub mirror URL (default: $HF_ENDPOINT or huggingface.co).")] = None,
    ask: Annotated[bool, typer.Option(
        "--ask", help="Ask first (with the size and the time it takes). A no, or a hub that "
        "could not be reached, is remembered: the next --ask neither asks nor tries (exit 3; a "
        "day for the hub). Without --ask the download always starts.")] = False,
) -> None:
    """Download a catalogue model (language model + vision projector) and verify its checksums.

    Stopped or cut off, a download continues where it stopped when you run the command again.
    Exit codes: 0 the model is there, 1 or 2 the download failed, 3 (--ask) not downloaded."""
    from tracer_cli import download_choices as choices

    with guard():
        spec = m.resolve(name)
        if spec.source != "catalogue":
            raise m.ModelError(f"{name} is a registered model, not one to download",
                               "see `tracer models info " + name + "`")
        if ask and not force and spec.installed():
            paths = [spec.local_path("model"), spec.local_path("mmproj")]
        else:
            if ask:
                try:
                    offer(spec)
                except NotDownloaded as exc:  # an answer, not a failure: said as such
                    err.print(f"tracer: {escape(str(exc))}", soft_wrap=True)
                    raise typer.Exit(exc.exit_code) from None
            else:
                choices.forget(spec.name)
            paths = download(spec, endpoint, force)
        for path in paths:
            out.print(str(path))


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="A name for it, e.g. my-ui-tars.")],
    model: Annotated[Path, typer.Option("--model", help="The language model .gguf.")],
    mmproj: Annotated[Path, typer.Option("--mmproj", help="Its vision projector .gguf.")],
    profile: Annotated[str, typer.Option("--profile", help=(
        "tracer1, qwen3-vl, ui-tars, ui-tars-v1, gui-owl, ui-venus, opencua or holo."))] = "tracer1",
    max_pixels: Annotated[int, typer.Option(help="Pixel budget of the screenshot (0: the "
                                            "profile's default).")] = 0,
    context: Annotated[int, typer.Option(help="Context size in tokens.")] = 0,
    max_tokens: Annotated[int, typer.Option(help="Longest answer (0: the profile's; thinking "
                                            "models need several thousand).")] = 0,
) -> None:
    """Register GGUF files you already have under a name (they stay where they are)."""
    with guard():
        from tracer_cli.agent.profiles import PROFILES

        PROFILES.get(profile)  # an unknown profile: one line that names the profiles there are
        spec = m.add(name, model.expanduser(), mmproj.expanduser(), profile, max_pixels,
                     context, max_tokens)
        err.print(f"registered {spec.name}: tracer do \"...\" --model {spec.name}")


@app.command()
def default() -> None:
    """The model `tracer do` uses when none is named: qwen3-vl-4b-instruct where this llama.cpp
    can offload to a GPU, qwen3-vl-2b-instruct on a CPU (2.4 times faster there)."""
    with guard():
        out.print(m.default_model(), highlight=False, soft_wrap=True)


@app.command()
def info(name: Annotated[str, typer.Argument(help="Model name.")]) -> None:
    """Everything tracer knows about one model."""
    with guard():
        from tracer_cli.agent.profiles import PROFILES

        spec = m.resolve(name)
        rows = [("name", spec.name), ("source", spec.source), ("description", spec.description),
                ("repository", spec.repo and f"{spec.repo}@{spec.revision}"),
                ("profile", spec.profile), *_image_rows(spec),
                ("context", str(spec.context)),
                ("answer budget", f"{spec.max_tokens or PROFILES.get(spec.profile).max_tokens} tokens"
                 + (" (a thinking model)" if spec.thinking else "")),
                ("installed", "yes" if spec.installed() else "no")]
        for which in ("model", "mmproj"):
            f: m.ModelFile = getattr(spec, which)
            rows += [(which, f.file), ("  path", str(spec.local_path(which))),
                     ("  size", _size(f.size)), ("  sha256", f.sha256 or "(from the hub)")]
        table = Table(show_header=False)
        for key, value in rows:
            if value:
                table.add_row(key, escape(value))
        out.print(table)


def _image_rows(spec: m.ModelSpec) -> list[tuple[str, str]]:
    """What the model's screenshots look like and what its coordinates mean."""
    from tracer_cli.agent.profiles import PROFILES

    geometry = PROFILES.get(spec.profile).geometry
    sizes = ", ".join(f"{w}x{h} -> {'x'.join(map(str, geometry.size(w, h, spec.max_pixels)))}"
                      for w, h in ((1920, 1080), (2560, 1440), (1366, 768)))
    budget = geometry.budget(spec.max_pixels)
    return [("image", f"{geometry.family}: {geometry.describe()}"),
            ("image budget", f"{budget} pixels ({budget // geometry.token_pixels} image tokens); "
                             f"screens are sent as {sizes}")]


@app.command("rm")
def remove(
    name: Annotated[str, typer.Argument(help="Model name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a downloaded model, or forget a registered one (its files are kept)."""
    with guard():
        if not yes and sys.stdin.isatty():
            if not typer.confirm(f"remove {name}?", default=False, err=True):
                raise typer.Exit(1)
        spec, copies = m.catalogue().get(name), []
        if spec is not None and spec.local_path("mmproj").is_file():  # a download goes
            from tracer_cli.agent.backends.projector import remove_copies

            copies = remove_copies(spec.local_path("mmproj"))  # with its Q8_0 copy for the CPU
        for path in [*m.remove(name), *copies]:
            err.print(f"removed {path}")


@app.command()
def path(name: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help="Model name; none prints the downloads directory.")] = None) -> None:
    """Print where a model's files are (model, then mmproj)."""
    with guard():
        if name is None:
            out.print(str(m.models_dir()))
            return
        spec = m.resolve(name)
        out.print(str(spec.local_path("model")))
        out.print(str(spec.local_path("mmproj")))
