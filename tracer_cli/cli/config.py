"""`tracer config` (every setting, its value, where it comes from and what it means, readable at
80 columns: nothing cut) and `tracer config init` (a starting config file, every setting in it
commented out at its default with what it means)."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from tracer_cli import paths
from tracer_cli.cli.console import err, guard, out, stdout
from tracer_cli.errors import ConfigError

app = typer.Typer(invoke_without_command=True, no_args_is_help=False,
                  help="Show the settings (`tracer config`), or write a starting config file "
                  "(`tracer config init`).")


def toml_value(value: Any) -> str:
    """A setting's value as the config file writes it."""
    import tomli_w

    return tomli_w.dumps({"v": value}).strip().removeprefix("v = ")


@app.callback()
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the effective settings, where each comes from, and where the config file is.

    Precedence: command-line flags, then TRACER_* environment variables (TRACER_ and the
    setting's name in capitals), then the config file (TOML, one `name = value` per setting),
    then the defaults.
    """
    if ctx.invoked_subcommand is not None:
        return
    with guard():
        path = paths.config_path()
        from tracer_cli import config as cfg  # pydantic: loaded when a command runs, not for --help

        settings, sources = cfg.load()
        chosen = settings.backend
        cfg.imply_backend(settings, sources)  # as every command does: a server named, no backend
        implied = settings.backend != chosen
        if as_json:
            stdout().write(json.dumps({"config_file": str(path), "runs": str(paths.runs_dir()),
                                       "settings": settings.model_dump(),
                                       "sources": sources}) + "\n")
            return
        state = "exists" if path.exists() else "not created yet: tracer config init writes one"
        out.print(f"config file: {path} ({state})", soft_wrap=True)
        out.print(f"run records: {paths.runs_dir()}", soft_wrap=True)
        out.print(f"API key: {'set' if settings.api_key else 'not set'} "
                  "(TRACER_API_KEY or OPENAI_API_KEY)")
        out.print(textwrap.fill(f"each setting: name = value in the file, {cfg.ENV_PREFIX}NAME "
                                "in the environment, or the flag of the same name",
                                max(40, out.width - 1)) + "\n", soft_wrap=True)
        for name, field in type(settings).model_fields.items():
            where = sources[name]
            mark = "" if where == "default" else f"   [bold]from {where}[/]"
            if name == "backend" and implied:
                mark = f"   [bold]because base_url is set (from {sources['base_url']})[/]"
            out.print(f"{name} = {escape(toml_value(getattr(settings, name)))}{mark}",
                      soft_wrap=True, highlight=False)
            if field.description:  # wrapped under the name, indented, no padding after it
                out.print(Text(textwrap.fill(field.description, max(40, out.width - 1),
                                             initial_indent="    ", subsequent_indent="    "),
                               style="dim"), soft_wrap=True)


@app.command("init")
def init(
    force: Annotated[bool, typer.Option("--force", help="Replace a config file that exists.")] = False,
) -> None:
    """Write a starting config file: every setting, commented out at its default, with what it
    means. Uncomment a line and change its value to use it."""
    from tracer_cli import private
    from tracer_cli.config import Settings

    with guard():
        path = paths.config_path()
        if path.exists() and not force:
            raise ConfigError(f"{path} exists already", "edit it, or pass --force to replace it")
        lines = [f"# tracer's config file, written by `tracer config init` on "
                 f"{datetime.now():%Y-%m-%d}.",
                 "# Every setting is here at its default, commented out: uncomment a line and "
                 "change its value to use it.",
                 "# Flags and TRACER_* environment variables win over this file; `tracer config` "
                 "shows what is in effect.", ""]
        defaults = Settings()
        for name, field in Settings.model_fields.items():
            if field.description:
                lines.append(f"# {field.description}")
            lines.append(f"# {name} = {toml_value(getattr(defaults, name))}")
            lines.append("")
        try:
            private.make_dir(path.parent)
        except OSError as exc:
            raise ConfigError(f"cannot create {path.parent}: {exc.strerror or exc}",
                              "set TRACER_CONFIG to a file in a writable folder") from None
        private.write_text(Path(path), "\n".join(lines))
        err.print(f"wrote {path}: every setting commented out at its default", soft_wrap=True)
        out.print(str(path), soft_wrap=True)
