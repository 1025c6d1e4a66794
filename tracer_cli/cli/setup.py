"""`tracer setup kde [--undo]`: what a desktop must be told once before tracer may act on it
(tracer_cli/desktop/platforms/kde_setup.py does the work; this parses and prints)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from tracer_cli.cli.console import err, guard, out

app = typer.Typer(help="Authorise tracer on a desktop that asks for it (KDE Plasma).",
                  no_args_is_help=True)


@app.command("kde")
def kde(
    undo: Annotated[bool, typer.Option(
        "--undo", help="Remove what `tracer setup kde` wrote.")] = False,
) -> None:
    """Let tracer take screenshots and send input on KDE Plasma (Wayland).

    KWin allows both only to programs a desktop entry authorises. This writes one to your
    applications folder (~/.local/share/applications): it names the Python executable tracer
    runs on (symlinks resolved, as KWin sees it) and grants it org.kde.KWin.ScreenShot2 (screen
    capture) and org_kde_kwin_fake_input (mouse and keyboard). Every program that executable
    runs gets the same rights. Other entries naming that executable (Debian's python3.11.desktop)
    get a copy of theirs with the two lines, which hides them: KWin reads whichever comes first.
    Exit codes: 0 done, 1 failed, 2 your own entry names the executable (it says what to add)."""
    from tracer_cli.desktop.platforms import kde_setup

    with guard():
        program = kde_setup.executable()
        if undo:
            change = kde_setup.undo(program)
            for path in change.removed:
                out.print(f"removed {escape(str(path))}")
            if not change.removed:
                err.print(f"nothing to undo: tracer wrote no entry for {escape(program)}")
            else:
                err.print(f"KWin no longer lets {escape(program)} take screenshots or send input "
                          "(programs already running keep their input until they end)")
            return
        change = kde_setup.setup(program)
        for path in change.written:
            out.print(f"wrote {escape(str(path))}")
        for path in change.shadowed:
            err.print(f"it hides {escape(str(path))}, which names the same executable (a copy "
                      "of it with the two lines)")
        err.print(f"authorised {escape(program)} (and every script it runs) for KWin's "
                  f"{kde_setup.SCREENSHOT} (screen capture) and {kde_setup.FAKE_INPUT} (mouse and "
                  "keyboard); undo: tracer setup kde --undo")
        took = kde_setup.wait_taken()
        if took is not None:
            err.print(f"KWin took it after {took:.1f} s")
