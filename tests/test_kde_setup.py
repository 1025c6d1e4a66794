"""`tracer setup kde` without KWin: the desktop entries it writes in a fake set of XDG folders
(a user's, and a system one holding another entry for the same interpreter, as Debian's
python3.11.desktop does), what --undo removes, and the chords as KGlobalAccel stores them.
KWin itself reading them is tested in tests/e2e/test_kde.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracer_cli.desktop.platforms import kde_setup
from tracer_cli.desktop.platforms.kde_switch import qt_key
from tracer_cli.desktop.platforms.sway_switch import parse
from tracer_cli.errors import ConfigError


@pytest.fixture
def folders(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """XDG folders of a test's own, and a program whose entries they hold (a symlink to it,
    like a virtual environment's python, names the same program)."""
    program = tmp_path / "bin" / "python3.11"
    program.parent.mkdir()
    program.write_text("")
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "python").symlink_to(program)
    system = tmp_path / "system"
    (system / "applications").mkdir(parents=True)
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "home"),
           "XDG_DATA_DIRS": str(system)}
    return env, program, system / "applications"


def test_setup_writes_an_entry_for_the_resolved_interpreter(folders: tuple) -> None:
    env, program, _ = folders
    assert not kde_setup.status(str(program), env).granted
    change = kde_setup.setup(str(program), env)
    assert [p.parent for p in change.written] == [Path(env["XDG_DATA_HOME"]) / "applications"]
    text = change.written[0].read_text()
    assert f"Exec={program}\n" in text
    assert "X-KDE-DBUS-Restricted-Interfaces=org.kde.KWin.ScreenShot2\n" in text
    assert "X-KDE-Wayland-Interfaces=org_kde_kwin_fake_input\n" in text
    found = kde_setup.status(str(program), env)
    assert found.granted and str(change.written[0]) in found.describe()


def test_another_entry_for_the_same_interpreter_is_shadowed_and_given_back(
        folders: tuple) -> None:
    env, program, system = folders
    debian = system / "python3.11.desktop"
    # names it through a symlink: KWin compares canonical paths
    debian.write_text(f"[Desktop Entry]\nName=Python (v3.11)\nExec={program.parent.parent}"
                      "/venv/python\nType=Application\nNoDisplay=true\n")
    before = kde_setup.status(str(program), env)
    assert [e.path for e in before.entries] == [debian] and not before.granted
    assert "python3.11.desktop" in before.describe()

    change = kde_setup.setup(str(program), env)
    assert change.shadowed == [debian]
    shadow = Path(env["XDG_DATA_HOME"]) / "applications" / "python3.11.desktop"
    assert shadow in change.written
    assert "Name=Python (v3.11)\n" in shadow.read_text()  # the entry it hides, plus the keys
    after = kde_setup.status(str(program), env)
    assert after.granted and len(after.entries) == 2  # tracer's and the copy: either will do
    assert debian.read_text().startswith("[Desktop Entry]\nName=Python")  # untouched

    undone = kde_setup.undo(str(program), env)
    assert sorted(undone.removed) == sorted(change.written)
    assert [e.path for e in kde_setup.status(str(program), env).entries] == [debian]


def test_a_users_own_entry_is_left_alone_with_the_lines_to_add(folders: tuple) -> None:
    env, program, _ = folders
    mine = Path(env["XDG_DATA_HOME"]) / "applications" / "my-python.desktop"
    mine.parent.mkdir(parents=True)
    mine.write_text(f"[Desktop Entry]\nExec={program} -i\nType=Application\n")
    with pytest.raises(ConfigError) as info:
        kde_setup.setup(str(program), env)
    assert str(mine) in info.value.message
    assert "X-KDE-Wayland-Interfaces=org_kde_kwin_fake_input" in info.value.hint
    assert sorted(os.listdir(mine.parent)) == ["my-python.desktop"]


def test_undo_without_setup_removes_nothing(folders: tuple) -> None:
    env, program, _ = folders
    assert kde_setup.undo(str(program), env).removed == []


@pytest.mark.parametrize(("hotkey", "value"), [
    ("<ctrl>+<alt>+<shift>+k", 0x0E00004B),  # as KGlobalAccel answered on KWin 5.27
    ("<ctrl>+<alt>+p", 0x0C000050),
    ("<cmd>+<f9>", 0x11000038),  # Meta + Qt::Key_F9
    ("<ctrl>+<alt>+-", 0x0C00002D),
])
def test_chords_as_kglobalaccel_stores_them(hotkey: str, value: int) -> None:
    combo, _ = parse(hotkey, "kill")
    assert qt_key(combo, hotkey, "kill") == value
