"""A headless GNOME session for the tests: private buses, PipeWire + WirePlumber, and
gnome-shell or mutter alone (moved here from the GNOME prototype).

    with HeadlessGnome(monitors=[(1280, 800)]) as env:   # env: dict for clients
        subprocess.Popen(["xterm"], env={**os.environ, **env})

Start order (each waits on state, never a fixed sleep):
  1. a private *system* bus (gnome-shell asks logind on it; a minimal config, no services),
  2. a private session bus (the standard session config, so the shell's helpers can be
     D-Bus-activated; any user may connect, so root clients reach a bus run by another user),
  3. PipeWire (waits for its socket) and WirePlumber (waits until it is a PipeWire client),
  4. gnome-shell --headless --wayland --virtual-monitor WxH [...] (waits for
     org.gnome.Mutter.RemoteDesktop, org.gnome.Mutter.ScreenCast and org.gnome.Shell on the bus),
     then leaves the overview, optionally applies a scale through DisplayConfig, and finds
     Xwayland's display number when X11 is on.
stop() ends every process it started, and every process those started (found through /proc
before anything is stopped), by PID: SIGTERM, then SIGKILL after a grace period.

Needs jeepney (tracer's D-Bus client); ``python -m tests.gnome_session`` runs a self-test.
"""

from __future__ import annotations

import os
import pwd
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.programs import stop_program

SYSTEM_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

SESSION_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  {servicedirs}
  <limit name="max_incoming_unix_fds">250000000</limit>
  <limit name="max_outgoing_unix_fds">250000000</limit>
  <limit name="max_message_size">1000000000</limit>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"""


# D-Bus services the session bus may activate with services="minimal" (the rest of the
# desktop's services -- evolution, goa, gvfs, portals, keyring -- only cost memory and CPU here).
MINIMAL_SERVICES = ("ca.desrt.dconf", "org.gnome.Shell.Notifications",
                    "org.freedesktop.impl.portal.PermissionStore")


# Settings for a quiet test desktop, loaded into the session's own dconf before the shell starts:
# no notification banners over the test windows, no animations (frames settle sooner), no
# screen lock or blanking, no key repeat (a loaded machine can deliver a key's release late).
TEST_SETTINGS = """[org/gnome/desktop/notifications]
show-banners=false

[org/gnome/desktop/interface]
enable-animations=false

[org/gnome/desktop/session]
idle-delay=uint32 0

[org/gnome/desktop/screensaver]
lock-enabled=false

[org/gnome/desktop/peripherals/keyboard]
repeat=false
"""


class SessionError(RuntimeError):
    pass


def apply_scale(bus, scale: float) -> None:
    """Give every monitor ``scale`` for now (DisplayConfig.ApplyMonitorsConfig, method 1),
    laid out left to right. mutter refuses a scale the mode does not list."""
    dest = path = iface = "org.gnome.Mutter.DisplayConfig"
    path = "/org/gnome/Mutter/DisplayConfig"
    serial, physical, _logical, props = bus.call(dest, path, iface, "GetCurrentState")
    by_scale = props.get("layout-mode", ("u", 2))[1] == 1
    current = {}
    for (connector, *_), modes, _props in physical:
        for mode in modes:
            if mode[6].get("is-current", ("b", False))[1]:
                current[connector] = mode
    configs, x = [], 0
    for i, (connector, mode) in enumerate(sorted(current.items())):
        if not any(abs(s - scale) < 1e-6 for s in mode[5]):
            raise SessionError(f"{connector} {mode[1]}x{mode[2]} has no scale {scale}: {mode[5]}")
        configs.append((x, 0, float(scale), 0, i == 0, [(connector, mode[0], {})]))
        x += int(mode[1] / scale) if by_scale else mode[1]
    bus.call(dest, path, iface, "ApplyMonitorsConfig", "uua(iiduba(ssa{sv}))a{sv}",
             (serial, 1, configs, {}))


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def descendants(pid: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] != b"Z"


@dataclass
class HeadlessGnome:
    """monitors: one (width, height) per virtual monitor, laid out left to right.
    scale: applied to every monitor through DisplayConfig.ApplyMonitorsConfig after start.
    shell: gnome-shell (True) or mutter alone (False).
    x11: let mutter start Xwayland (DISPLAY in the environment).
    user: run the session as this user name (via setpriv) when we are root; None = as we are."""

    monitors: Sequence[tuple[int, int]] = ((1280, 800),)
    scale: float = 1.0
    shell: bool = True
    x11: bool = True
    user: str | None = None
    services: str = "minimal"  # or "all": the standard session service directories
    settings: str | None = TEST_SETTINGS  # dconf keyfile text loaded at "/" (None: nothing)
    media_keys: bool = False  # start gsd-media-keys (custom shortcuts; with shell=True)
    runtime_dir: str | None = None  # XDG_RUNTIME_DIR to create (e.g. /run/user/UID); else a temp
    wayland_name: str = "wayland-0"
    name: str = field(default_factory=lambda: f"tracer-gnome-{os.getpid()}")
    log_path: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self._dir: str | None = None
        self._log = None

    # ---- helpers ---------------------------------------------------------------------------
    def _prefix(self) -> list[str]:
        if self.user is None or os.geteuid() != 0:
            return []
        pw = pwd.getpwnam(self.user)
        return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--"]

    def _chown(self, path: str) -> None:
        if self.user is not None and os.geteuid() == 0:
            pw = pwd.getpwnam(self.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _spawn(self, label: str, argv: list[str], env: dict[str, str], **kw) -> subprocess.Popen:
        proc = subprocess.Popen(self._prefix() + argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=kw.pop("stdout", self._log), stderr=self._log,
                                start_new_session=True, **kw)
        self._procs.append((label, proc))
        return proc

    def _wait(self, what: str, ok, timeout: float, proc: subprocess.Popen | None = None,
              interval: float = 0.01):
        deadline = time.monotonic() + timeout
        while True:
            value = ok()
            if value:
                return value
            if proc is not None and proc.poll() is not None:
                raise SessionError(f"{what}: process exited with {proc.returncode} "
                                   f"(log: {self.log_path})")
            if time.monotonic() > deadline:
                raise SessionError(f"timed out waiting for {what} (log: {self.log_path})")
            time.sleep(interval)

    def _bus_daemon(self, label: str, conf: str, sock: str, env: dict[str, str]) -> str:
        conf_path = os.path.join(self._dir, f"{label}.conf")
        if self.services == "all":
            servicedirs = "<standard_session_servicedirs />"
        else:
            sdir = os.path.join(self._dir, "dbus-services")
            os.makedirs(sdir, exist_ok=True)
            for name in MINIMAL_SERVICES:
                src = f"/usr/share/dbus-1/services/{name}.service"
                if os.path.exists(src) and not os.path.exists(f"{sdir}/{name}.service"):
                    shutil.copy(src, sdir)
            servicedirs = f"<servicedir>{sdir}</servicedir>"
        with open(conf_path, "w") as f:
            f.write(conf.format(path=sock, servicedirs=servicedirs))
        proc = self._spawn(label, ["dbus-daemon", "--nofork", "--print-address=1",
                                   f"--config-file={conf_path}", f"--address=unix:path={sock}"],
                           env, stdout=subprocess.PIPE)
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        if not ready:
            raise SessionError(f"{label} dbus-daemon did not start (log: {self.log_path})")
        address = proc.stdout.readline().decode().strip()
        if not address:
            raise SessionError(f"{label} dbus-daemon exited (log: {self.log_path})")
        return address

    # ---- start / stop ----------------------------------------------------------------------
    def start(self) -> dict[str, str]:
        t0 = self._t0 = time.monotonic()
        if self.runtime_dir is not None:
            os.makedirs(self.runtime_dir, mode=0o700)  # ours: refused when it exists
            self._dir = self.runtime_dir
        else:
            self._dir = tempfile.mkdtemp(prefix=f"{self.name}-")
        os.chmod(self._dir, 0o700)
        self.log_path = self.log_path or os.path.join(self._dir, "session.log")
        self._log = open(self.log_path, "ab")
        for sub in ("home", "config", "data", "cache", "state"):
            os.makedirs(os.path.join(self._dir, sub), exist_ok=True)
        for root, dirs, files in os.walk(self._dir):
            for n in dirs + files:
                self._chown(os.path.join(root, n))
        self._chown(self._dir)
        d = self._dir
        base = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "HOME": f"{d}/home", "XDG_RUNTIME_DIR": d,
            "XDG_CONFIG_HOME": f"{d}/config", "XDG_DATA_HOME": f"{d}/data",
            "XDG_CACHE_HOME": f"{d}/cache", "XDG_STATE_HOME": f"{d}/state",
            "XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "GNOME",
            "NO_AT_BRIDGE": "1", "GTK_A11Y": "none",
        }
        try:
            if self.shell:
                base["DBUS_SYSTEM_BUS_ADDRESS"] = self._bus_daemon(
                    "system-bus", SYSTEM_BUS_CONF, f"{d}/system_bus", base)
            base["DBUS_SESSION_BUS_ADDRESS"] = self._bus_daemon(
                "session-bus", SESSION_BUS_CONF, f"{d}/bus", base)
            self.timings["buses"] = time.monotonic() - t0
            if self.settings:
                subprocess.run(self._prefix() + ["dconf", "load", "/"], input=self.settings.encode(),
                               env=base, check=True, stdout=self._log, stderr=self._log, timeout=20)
                self.timings["settings"] = time.monotonic() - t0

            pw = self._spawn("pipewire", ["pipewire"], base)
            self._wait("PipeWire socket", lambda: os.path.exists(f"{d}/pipewire-0"), 10, pw)
            wp = self._spawn("wireplumber", ["wireplumber"], base)
            self._wait("WirePlumber", lambda: self._wireplumber_ready(base), 15, wp, 0.05)
            self.timings["pipewire"] = time.monotonic() - t0

            wl = self.wayland_name
            argv = ["gnome-shell" if self.shell else "mutter", "--headless", "--wayland",
                    f"--wayland-display={wl}"]
            if not self.x11:
                argv.append("--no-x11")
            for w, h in self.monitors:
                argv.append(f"--virtual-monitor={w}x{h}")
            t_shell = time.monotonic()
            shell = self._spawn("shell", argv, base)
            from tracer_cli.desktop.platforms.dbus_client import Bus

            bus = Bus(base["DBUS_SESSION_BUS_ADDRESS"], timeout=60)  # a loaded machine: a slow shell
            try:
                names = ["org.gnome.Mutter.RemoteDesktop", "org.gnome.Mutter.ScreenCast",
                         "org.gnome.Mutter.DisplayConfig"]
                if self.shell:
                    names.append("org.gnome.Shell")
                self._wait("the compositor on D-Bus",
                           lambda: all(bus.has_owner(n) for n in names), 30, shell)
                self._wait("the Wayland socket", lambda: os.path.exists(f"{d}/{wl}"), 10, shell)
                self.timings["compositor"] = time.monotonic() - t_shell
                if self.shell:
                    self._leave_overview(bus, shell)
                if self.scale != 1.0:
                    apply_scale(bus, self.scale)
                if self.media_keys:
                    full = {**base, "WAYLAND_DISPLAY": wl}
                    gsd = self._spawn("gsd-media-keys", ["/usr/libexec/gsd-media-keys"], full)
                    self._wait("gsd-media-keys", lambda: bus.has_owner(
                        "org.gnome.SettingsDaemon.MediaKeys"), 20, gsd, 0.02)
            finally:
                bus.close()
            env = {k: base[k] for k in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")}
            env["WAYLAND_DISPLAY"] = wl
            if self.shell:
                env["DBUS_SYSTEM_BUS_ADDRESS"] = base["DBUS_SYSTEM_BUS_ADDRESS"]
            if self.x11:
                env["DISPLAY"], env["XAUTHORITY"] = self._wait(
                    "Xwayland", lambda: self._xwayland_display(shell), 15, shell, 0.02)
            self.env = env
            self.full_env = {**base, **env}  # + HOME, XDG_CONFIG_HOME...: for gsettings, helpers
            self.timings["start"] = time.monotonic() - t0
            return env
        except BaseException:
            self.stop()
            raise

    def _wireplumber_ready(self, env: dict[str, str]) -> bool:
        out = subprocess.run(self._prefix() + ["pw-cli", "ls", "Client"], env=env,
                             capture_output=True, text=True, timeout=5).stdout
        return "WirePlumber" in out or "wireplumber" in out

    def _xwayland_display(self, shell: subprocess.Popen) -> tuple[str, str] | None:
        """Xwayland's display and cookie file, from its command line (mutter passes -auth)."""
        for pid in descendants(shell.pid):
            argv = cmdline(pid)
            if argv and os.path.basename(argv[0]) == "Xwayland":
                display = next((a for a in argv[1:] if a[:1] == ":" and a[1:].isdigit()), None)
                auth = argv[argv.index("-auth") + 1] if "-auth" in argv else ""
                if display and os.path.exists(f"/tmp/.X11-unix/X{display[1:]}"):
                    return display, auth
        return None

    def _leave_overview(self, bus, shell: subprocess.Popen) -> None:
        """gnome-shell's startup animation opens the overview (which takes every click) about
        a second after its D-Bus names appear; setting OverviewActive=false before that is
        undone. So: wait until OverviewActive reads true (the animation began; at most 30 s),
        then set it false until it reads false."""
        def get() -> bool:
            return bus.get_property("org.gnome.Shell", "/org/gnome/Shell", "org.gnome.Shell",
                                    "OverviewActive")

        try:
            self._wait("the shell's startup overview", get, 30, shell, 0.02)
        except SessionError:
            if shell.poll() is not None:
                raise

        def hidden() -> bool:
            bus.set_property("org.gnome.Shell", "/org/gnome/Shell", "org.gnome.Shell",
                             "OverviewActive", ("b", False))
            return get() is False

        self._wait("leaving the overview", hidden, 30, shell, 0.05)
        self.timings["overview_left"] = time.monotonic() - self._t0

    def pids(self) -> dict[str, int]:
        return {label: p.pid for label, p in self._procs}

    def memory_kb(self) -> dict[str, int]:
        """Resident memory of each process we started, and of all the others together."""
        out = {label: rss_kb(p.pid) for label, p in self._procs}
        out["others"] = sum(rss_kb(c) for c in self.session_pids())
        out["total"] = sum(out.values())
        return out

    def spawn_helper(self, label: str, argv: list[str]) -> subprocess.Popen:
        """Start another program of the session (e.g. gsd-media-keys) as its user; it is
        stopped with the rest."""
        return self._spawn(label, argv, self.full_env)

    def session_pids(self) -> list[int]:
        """Processes that belong to this session but that we did not start directly: our
        processes' descendants, and D-Bus-activated services (dbus-daemon double-forks them, so
        their parent is PID 1): found by our XDG_RUNTIME_DIR in their environment."""
        if not self._dir:
            return []
        mine = {p.pid for _, p in self._procs}
        found: set[int] = set()
        for p in mine:
            found.update(descendants(p))
        needle = f"XDG_RUNTIME_DIR={self._dir}".encode()
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) != os.getpid():
                try:
                    with open(f"/proc/{name}/environ", "rb") as f:
                        if needle in f.read().split(b"\0"):
                            found.add(int(name))
                except OSError:
                    pass
        return sorted(found - mine)

    def stop(self, grace: float = 5.0) -> float:
        t0 = time.monotonic()
        # Everything we started, and everything those started (Xwayland, ibus, D-Bus-activated
        # helpers such as dconf-service), found before stopping anything.
        extra = self.session_pids()
        # The compositor first (its clients and Xwayland go with it), the buses last.
        for _label, p in reversed(self._procs):
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(grace)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(grace)
            if p.stdout:
                p.stdout.close()
        for pid in extra:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + grace
        for pid in extra:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._procs.clear()
        if self._log:
            self._log.close()
            self._log = None
        if self._dir and not os.environ.get("TRACER_KEEP_SESSION_DIR"):
            shutil.rmtree(self._dir, ignore_errors=True)
        self.timings["stop"] = time.monotonic() - t0
        return self.timings["stop"]

    def __enter__(self) -> dict[str, str]:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- what the tests use ------------------------------------------------------------------------

PACKAGES = {"dbus-daemon": "dbus", "pipewire": "pipewire", "wireplumber": "wireplumber",
            "pw-cli": "pipewire-bin", "gst-launch-1.0": "gstreamer1.0-tools",
            "Xwayland": "xwayland", "dconf": "dconf-cli", "gsettings": "libglib2.0-bin"}
APPS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")


def missing_packages(shell: bool) -> list[str]:
    """The Debian packages a headless session (and its test programs) needs that are missing."""
    need = dict(PACKAGES)
    need["gnome-shell" if shell else "mutter"] = "gnome-shell" if shell else "mutter"
    missing = [pkg for exe, pkg in need.items() if shutil.which(exe) is None]
    if shell and not os.path.exists("/usr/libexec/gsd-media-keys"):
        missing.append("gnome-settings-daemon")
    if shutil.which("gst-inspect-1.0") and subprocess.run(
            ["gst-inspect-1.0", "pipewiresrc"], capture_output=True).returncode != 0:
        missing.append("gstreamer1.0-pipewire")
    if subprocess.run(["/usr/bin/python3", "-c", "import gi; gi.require_version('Gtk', '3.0'); "
                       "from gi.repository import Gtk"], capture_output=True).returncode != 0:
        missing.append("python3-gi gir1.2-gtk-3.0")
    return missing


class Probe:
    """A test program on the session; its JSON lines on stdout (tests/apps/gtk_position_probe.py) are
    kept with the time they arrived. Stopped by its PID."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import queue
        import threading

        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events: queue.Queue = queue.Queue()
        self.all: list[dict] = []
        self.stderr: list[str] = []
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._err, daemon=True)]
        for reader in self._threads:
            reader.start()

    def _read(self) -> None:
        import json

        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            event["t"] = time.monotonic()
            self.all.append(event)
            self.events.put(event)

    def _err(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def wait(self, kind: str, timeout: float = 15.0, pred=None) -> dict:
        import queue

        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} event within {timeout} s (stderr: "
                                     f"{self.stderr[-3:]})")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event["ev"] == kind and (pred is None or pred(event)):
                return event

    def of(self, kind: str) -> list[dict]:
        return [e for e in list(self.all) if e["ev"] == kind]

    def text(self) -> str | None:
        texts = self.of("text")
        return texts[-1]["text"] if texts else None

    def stop(self) -> None:
        stop_program(self.proc)
        for reader in self._threads:
            reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


class Gnome:
    """A running headless session as the tests use it: the environment of a tracer run on it,
    its programs (stopped by PID at the end), and screenshots taken through tracer's own
    platform in this process."""

    def __init__(self, session: HeadlessGnome) -> None:
        self.session = session
        self.programs: list[Probe] = []
        self._platform = None
        self._screens: dict[int, object] = {}

    @property
    def width(self) -> int:
        return self.session.monitors[0][0]

    @property
    def height(self) -> int:
        return self.session.monitors[0][1]

    def env(self, **extra: str) -> dict[str, str]:
        """For `tracer` on this session (TRACER_HOME comes from the test's own environment)."""
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "XAUTHORITY")}
        env.update(self.session.full_env)
        env.setdefault("TRACER_SETTLE_QUIET", "0.1")
        env.setdefault("TRACER_SETTLE_TIMEOUT", "2")
        env.update(extra)
        return env

    def start(self, argv: list[str], x11: bool = False, **extra: str) -> Probe:
        """A program on the session: native Wayland (GTK), or X11 through Xwayland."""
        env = self.env(**extra)
        if x11:
            env.pop("WAYLAND_DISPLAY", None)
            env["GDK_BACKEND"] = "x11"
        else:
            env["GDK_BACKEND"] = "wayland"
        program = Probe(argv, env)
        self.programs.append(program)
        return program

    def probe(self, monitor: int = 0, size: str = "600x400") -> Probe:
        """tests/apps/gtk_position_probe.py full screen on ``monitor`` (0: the first), once drawn."""
        app = self.start(["/usr/bin/python3", os.path.join(APPS_DIR, "gtk_position_probe.py"),
                          "--fullscreen-monitor", str(monitor), "--size", size])
        app.wait("ready")
        return app

    def platform(self):
        if self._platform is None:
            from tracer_cli.desktop.platforms.gnome import GnomePlatform

            saved = dict(os.environ)
            os.environ.update(self.session.full_env)
            try:
                self._platform = GnomePlatform(self.session.env["WAYLAND_DISPLAY"])
                self._platform.session()  # held until close(): one session for the test's looks
            finally:
                os.environ.clear()
                os.environ.update(saved)
        return self._platform

    def grab(self, monitor: int = 1, quiet: float = 0.3):
        """Monitor ``monitor`` once it has stopped changing (PIL image, physical pixels)."""
        platform = self.platform()
        if monitor not in self._screens:
            self._screens[monitor] = platform.open_screen(monitor)
        screen = self._screens[monitor]
        screen.wait_settled(quiet, 5)
        return screen.capture().image

    def stop_programs(self) -> None:
        for program in reversed(self.programs):
            program.stop()
        self.programs.clear()

    def close(self) -> None:
        self.stop_programs()
        for screen in self._screens.values():
            screen.close()
        self._screens.clear()
        if self._platform is not None:
            self._platform.release()
            self._platform = None


class Keyboard:
    """A RemoteDesktop keyboard of the test's own (as the user's keys are to tracer: another
    device on the same seat), for the shortcut chords."""

    CODES = {"ctrl": 29, "alt": 56, "shift": 42, "k": 37, "p": 25, "x": 45}

    def __init__(self, gnome: Gnome) -> None:
        from tracer_cli.desktop.platforms.dbus_client import Bus

        self.bus = Bus(gnome.session.env["DBUS_SESSION_BUS_ADDRESS"])
        (self.path,) = self.bus.call("org.gnome.Mutter.RemoteDesktop",
                                     "/org/gnome/Mutter/RemoteDesktop",
                                     "org.gnome.Mutter.RemoteDesktop", "CreateSession")
        self._call("Start")
        self.tap(["shift"])  # the device exists from its first key: give clients time to see it
        time.sleep(0.3)

    def _call(self, method: str, sig: str = "", body: tuple = ()) -> None:
        self.bus.call("org.gnome.Mutter.RemoteDesktop", self.path,
                      "org.gnome.Mutter.RemoteDesktop.Session", method, sig, body)

    def tap(self, keys: list[str], hold: float = 0.05) -> float:
        """Press the keys in order, let go in reverse; returns when the last was pressed."""
        for key in keys:
            self._call("NotifyKeyboardKeycode", "ub", (self.CODES[key], True))
            time.sleep(0.02)
        pressed = time.monotonic()
        time.sleep(hold)
        for key in reversed(keys):
            self._call("NotifyKeyboardKeycode", "ub", (self.CODES[key], False))
            time.sleep(0.02)
        return pressed

    def close(self) -> None:
        try:
            self._call("Stop")
        finally:
            self.bus.close()


def area_pixel(rgb: tuple[int, int, int]) -> tuple[int, int]:
    """Which device pixel of gtk_position_probe's drawing area shows this colour."""
    r, g, b = rgb[:3]
    return ((b >> 4) << 8) | r, ((b & 15) << 8) | g


def running(**kwargs):
    """Start a headless session for a fixture (skipped, with the reason, only where packages
    are missing); yields a Gnome, stops everything by PID after."""
    import pytest

    missing = missing_packages(kwargs.get("shell", True))
    if missing:
        pytest.skip(f"a headless GNOME session needs: apt-get install {' '.join(missing)} "
                    "(bash examples/install.sh --test)")
    session = HeadlessGnome(**kwargs)
    session.start()
    gnome = Gnome(session)
    try:
        yield gnome
    finally:
        gnome.close()
        session.stop()


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description="start and stop a headless GNOME session")
    ap.add_argument("--monitor", action="append", default=None, help="WxH, repeatable")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--mutter", action="store_true", help="mutter alone instead of gnome-shell")
    ap.add_argument("--no-x11", action="store_true")
    ap.add_argument("--user", default=None)
    ap.add_argument("--hold", type=float, default=0.0, help="seconds to keep it running")
    a = ap.parse_args()
    mons = [tuple(int(v) for v in m.split("x")) for m in (a.monitor or ["1280x800"])]
    s = HeadlessGnome(monitors=mons, scale=a.scale, shell=not a.mutter, x11=not a.no_x11,
                      user=a.user)
    env = s.start()
    print(json.dumps(env, indent=1))
    print("pids", s.pids())
    time.sleep(a.hold)
    print("memory_kb", s.memory_kb())
    for c in s.session_pids():
        print("  also", c, rss_kb(c), "kB", " ".join(cmdline(c))[:90])
    s.stop()
    print("timings", {k: round(v, 3) for k, v in s.timings.items()})
