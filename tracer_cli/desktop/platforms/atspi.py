"""AT-SPI on X11: elements read from the accessibility bus over plain D-Bus (jeepney).

The bus: ``AT_SPI_BUS_ADDRESS``, else what ``org.a11y.Bus.GetAddress`` on the session bus says
(asked only when at-spi-bus-launcher already owns that name: tracer never starts it). The
registry's root lists the applications; an application's root lists its top-level windows.

A point lookup never walks the desktop: the top-level windows are read once per screen (one
round trip per stage, the calls of a stage sent together), the one containing the point is
chosen, and ``Component.GetAccessibleAtPoint`` descends from it. Every answer has a deadline
(LOOKUP_BUDGET); an application that does not answer in time is left out for a while
(SLOW_PAUSE) and its elements are "none", so a hung program never stalls a run.

On X11, GTK's, Qt's and Chromium's extents in screen coordinates (coord type 0) are desktop
pixels. On Wayland a program does not know where its window lies and answers in its window's
coordinates (GTK 3 on sway: whatever the coord type asked); a ``Placement`` (the compositor's
word, placement.py) pairs each top-level window with the window the compositor shows, and boxes
and points go through that window's ``Frame``. A window the compositor does not show (another
workspace) has no elements.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from tracer_cli.desktop.elements import INTERACTIVE_ROLES, Element, Elements, NoElements, decode_states
from tracer_cli.desktop.placement import Frame, Placement, differs, frame_of, pair, span

REGISTRY = "org.a11y.atspi.Registry"
ROOT = "/org/a11y/atspi/accessible/root"
NULL = "/org/a11y/atspi/null"
ACCESSIBLE = "org.a11y.atspi.Accessible"
COMPONENT = "org.a11y.atspi.Component"
TEXT = "org.a11y.atspi.Text"
PROPERTIES = "org.freedesktop.DBus.Properties"
SCREEN = 0  # ATSPI_COORD_TYPE_SCREEN

LOOKUP_BUDGET = 0.2  # seconds a point lookup may take in all
FIND_BUDGET = 0.6  # seconds a search of windows by role and name may take
CONNECT_TIMEOUT = 0.2  # seconds to reach the session bus and ask for the accessibility bus
SLOW_PAUSE = 10.0  # seconds an application that missed a deadline is left out
MAX_DEPTH = 40  # levels a descent by point goes at most
MAX_NODES = 3000  # nodes a search reads at most
MAX_TEXT = 2000  # characters of an element's text kept

Ref = tuple[str, str]  # (bus name, object path)


def _session_address() -> str | None:
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    socket = os.path.join(runtime, "bus")
    return f"unix:path={socket}" if os.path.exists(socket) else None


def bus_address() -> tuple[str | None, str]:
    """The accessibility bus's address, or None and why there is none. Costs nothing without a
    session bus; never starts the accessibility bus."""
    explicit = os.environ.get("AT_SPI_BUS_ADDRESS")
    if explicit:
        return explicit, ""
    session = _session_address()
    if session is None:
        return None, "no session D-Bus (DBUS_SESSION_BUS_ADDRESS is not set)"
    from jeepney import DBusAddress, MessageType, new_method_call
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    try:
        conn = open_dbus_connection(session, auth_timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # a stale address, a refused socket, a slow bus
        return None, f"cannot reach the session D-Bus: {exc}"
    try:
        owned = conn.send_and_get_reply(message_bus.NameHasOwner("org.a11y.Bus"),
                                        timeout=CONNECT_TIMEOUT)
        if not owned.body or not owned.body[0]:
            return None, "the accessibility bus is off (at-spi-bus-launcher does not run)"
        reply = conn.send_and_get_reply(
            new_method_call(DBusAddress("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus"),
                            "GetAddress"), timeout=CONNECT_TIMEOUT)
        if reply.header.message_type == MessageType.error or not reply.body:
            return None, "the accessibility bus gave no address"
        return str(reply.body[0]), ""
    except Exception as exc:  # a timeout: the launcher hangs
        return None, f"the accessibility bus did not answer: {exc}"
    finally:
        with contextlib.suppress(Exception):
            conn.close()


class Topmost(Protocol):
    """The box (left, top, right, bottom) of the desktop's topmost top-level window at a
    point (None: no window there, or it cannot be told), as the display server stacks them."""

    def __call__(self, x: int, y: int) -> tuple[int, int, int, int] | None: ...

    def close(self) -> None: ...


def open_atspi(topmost: Topmost | None = None, placement: Placement | None = None) -> Elements:
    """The AT-SPI reader of this session's accessibility bus, or NoElements saying why not.
    ``topmost``: the display server's word on which window is on top at a point;
    ``placement``: the compositor's on where windows lie (Wayland)."""
    address, why = bus_address()
    if address is None:
        if placement is not None:
            placement.close()
        return NoElements(why)
    try:
        return AtspiElements(address, topmost, placement)
    except Exception as exc:
        if placement is not None:
            placement.close()
        return NoElements(f"cannot connect to the accessibility bus: {exc}")


class Call:
    """One method call to an accessible object."""

    __slots__ = ("ref", "iface", "method", "sig", "body")

    def __init__(self, ref: Ref, iface: str, method: str, sig: str = "",
                 body: tuple[Any, ...] = ()) -> None:
        self.ref, self.iface, self.method, self.sig, self.body = ref, iface, method, sig, body


def prop(ref: Ref, name: str, iface: str = ACCESSIBLE) -> Call:
    return Call(ref, PROPERTIES, "Get", "ss", (iface, name))


class AtspiElements:
    """Elements read from an accessibility bus (see the module's doc)."""

    available = True
    reason = ""

    def __init__(self, address: str, topmost: Topmost | None = None,
                 placement: Placement | None = None) -> None:
        from jeepney.io.blocking import open_dbus_connection

        self.conn = open_dbus_connection(address, auth_timeout=CONNECT_TIMEOUT)
        self.topmost = topmost
        self.placement = placement
        self.mapping = placement.mapping if placement is not None else ""
        self._frames: dict[Ref, Frame] = {}  # a window's frame, per screen (with a placement)
        self._pids: dict[str, int] = {}  # bus name -> its process
        # a window's children's span, by the window and its size (read again when it resizes)
        self._spans: dict[tuple[Ref, int, int], tuple[int, int, int, int] | None] = {}
        self._lock = threading.Lock()
        self._slow: dict[str, float] = {}  # bus name -> monotonic time it may be asked again
        self._windows: list[Element] | None = None  # per screen (until forget())
        self._points: dict[tuple[int, int], Element | None] = {}
        self._focus: tuple[Element | None] | None = None  # per screen, as the windows
        self._names: dict[str, str] = {}  # bus name -> application name
        self.closed = False

    # -- the calls ----------------------------------------------------------------------------

    def _many(self, calls: list[Call], deadline: float) -> list[Any]:
        """The answers of ``calls`` (each its reply's body, unpacked when it has one value),
        sent together: one round trip. A call that fails answers None; one not answered by
        the deadline answers None and its application is left out for SLOW_PAUSE."""
        from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call

        answers: list[Any] = [None] * len(calls)
        waiting: dict[int, int] = {}
        now = time.monotonic()
        if now >= deadline:
            return answers  # (the time went on calls before: nobody here is to blame)
        for index, call in enumerate(calls):
            if self._slow.get(call.ref[0], 0.0) > now or call.ref[1] == NULL:
                continue
            msg = new_method_call(DBusAddress(call.ref[1], call.ref[0], call.iface), call.method,
                                  call.sig or None, call.body)
            serial = next(self.conn.outgoing_serial)
            self.conn.send_message(msg, serial=serial)
            waiting[serial] = index
        while waiting:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                msg = self.conn.receive(timeout=left)
            except TimeoutError:
                for index in waiting.values():
                    self._slow[calls[index].ref[0]] = time.monotonic() + SLOW_PAUSE
                break
            index = waiting.pop(msg.header.fields.get(HeaderFields.reply_serial, -1), -1)
            if index < 0 or msg.header.message_type == MessageType.error:
                continue
            body = msg.body
            answers[index] = body[0] if len(body) == 1 else tuple(body)
            if calls[index].method == "Get" and calls[index].iface == PROPERTIES:
                answers[index] = answers[index][1]  # a property's variant: (signature, value)
        return answers

    def _guarded(self, work: Callable[[], Any], empty: Any) -> Any:
        """``work()`` under the lock; ``empty`` when the bus broke (the session ended)."""
        if self.closed:
            return empty
        with self._lock:
            try:
                return work()
            except (OSError, ConnectionError, EOFError, ValueError):
                self.close()
                return empty

    # -- windows --------------------------------------------------------------------------------

    def _apps(self, deadline: float) -> list[Ref]:
        (apps,) = self._many([Call((REGISTRY, ROOT), ACCESSIBLE, "GetChildren")], deadline)
        return [tuple(a) for a in apps or [] if a[1] != NULL]  # type: ignore[misc]

    def _app_names(self, apps: list[Ref], deadline: float) -> list[str]:
        unknown = [a for a in apps if a[0] not in self._names]
        for app, name in zip(unknown, self._many([prop(a, "Name") for a in unknown], deadline),
                             strict=True):
            if name is not None:
                self._names[app[0]] = str(name)
        return [self._names.get(a[0], "") for a in apps]

    def _read_windows(self, deadline: float) -> list[Element]:
        apps = self._apps(deadline)
        self._app_names(apps, deadline)
        children = self._many([Call(a, ACCESSIBLE, "GetChildren") for a in apps], deadline)
        refs = [tuple(w) for kids in children if kids for w in kids]
        elements = self._describe(refs, deadline, text=False)  # type: ignore[arg-type]
        windows = [e for e in elements if e is not None and "showing" in e.states
                   and e.box[2] > e.box[0] and e.box[3] > e.box[1]]
        return self._placed(windows, deadline) if self.placement is not None else windows

    def _placed(self, windows: list[Element], deadline: float) -> list[Element]:
        """The windows the compositor shows, each with the box it shows it at (its frame kept
        for its elements); the others left out."""
        assert self.placement is not None
        unknown = sorted({w.ref[0] for w in windows if w.ref and w.ref[0] not in self._pids})
        driver = ("org.freedesktop.DBus", "/org/freedesktop/DBus")
        pids = self._many([Call(driver, "org.freedesktop.DBus", "GetConnectionUnixProcessID", "s",
                                (name,)) for name in unknown], deadline)
        self._pids.update((name, pid) for name, pid in zip(unknown, pids, strict=True)
                          if pid is not None)  # (one not answered in time is asked again)
        try:
            shown = self.placement.windows(deadline - time.monotonic())
        except Exception:  # the compositor does not answer in time: no window can be placed
            return []
        sizes = [(w.box[2] - w.box[0], w.box[3] - w.box[1]) for w in windows]
        paired = pair([(self._pids.get(w.ref[0]) if w.ref else None, w.name, *size)
                       for w, size in zip(windows, sizes, strict=True)], shown)
        framed = [(w, s, size) for w, s, size in zip(windows, paired, sizes, strict=True)
                  if s is not None and w.ref is not None]
        decorated = [(w, s, size) for w, s, size in framed
                     if s.surface is None and differs(s, *size)]
        unread = [(w.ref, *size) for w, _, size in decorated if (w.ref, *size) not in self._spans]
        if len(self._spans) > 256:
            self._spans.clear()
        for key, inset in zip(unread, self._insets([r for r, _, _ in unread], deadline),  # type: ignore[misc]
                              strict=True):
            if inset is not None:  # (one not read in time is read again)
                self._spans[key] = inset  # type: ignore[index]
        insets = [self._spans.get((w.ref, *size)) for w, _, size in decorated]  # type: ignore[call-overload]
        known = {id(w): inset for (w, s, _), inset in zip(decorated, insets, strict=True)
                 if inset is not None and not differs(s, inset[2], inset[3])}
        placed = []
        for window, where, (width, height) in framed:
            inset = known.get(id(window))
            frame = frame_of(where, width, height, inset[:2] if inset else None)
            self._frames[window.ref] = frame  # type: ignore[index]
            placed.append(_with(window, box=frame.box))
        return placed

    def _insets(self, refs: list[Ref], deadline: float) -> list[tuple[int, int, int, int] | None]:
        """The span (x, y, width, height) of each window's showing children, in its own
        coordinates: the window within a surface drawn with shadows (two round trips)."""
        if not refs:
            return []
        children = self._many([Call(r, ACCESSIBLE, "GetChildren") for r in refs], deadline)
        kids = [[tuple(k) for k in ks or [] if k[1] != NULL] for ks in children]
        flat = [k for ks in kids for k in ks]
        boxes = self._many([Call(k, COMPONENT, "GetExtents", "u", (SCREEN,))  # type: ignore[arg-type]
                            for k in flat], deadline)
        out, at = [], 0
        for ks in kids:
            out.append(span([tuple(b) for b in boxes[at:at + len(ks)] if b is not None]))
            at += len(ks)
        return out

    def windows(self, deadline: float | None = None) -> list[Element]:
        """The showing top-level windows, read once per screen."""
        if self._windows is None:
            self._windows = self._read_windows(deadline or time.monotonic() + LOOKUP_BUDGET)
        return self._windows

    def _describe(self, refs: list[Ref], deadline: float, text: bool = True,
                  window: str = "", path: tuple[str, ...] = (),
                  frame: Frame | None = None) -> list[Element | None]:
        """Role, name, states and box of each object (two round trips with its text); boxes
        through ``frame`` where the program answers in its window's coordinates."""
        per = 5
        calls = []
        for ref in refs:
            calls += [Call(ref, ACCESSIBLE, "GetRoleName"), prop(ref, "Name"),
                      Call(ref, ACCESSIBLE, "GetState"),
                      Call(ref, COMPONENT, "GetExtents", "u", (SCREEN,)),
                      Call(ref, ACCESSIBLE, "GetInterfaces")]
        answers = self._many(calls, deadline)
        out: list[Element | None] = []
        texts: list[int] = []
        for i, ref in enumerate(refs):
            role, name, state, extents, interfaces = answers[i * per:(i + 1) * per]
            if role is None or extents is None:
                out.append(None)
                continue
            x, y, w, h = extents
            states = decode_states(state or [])
            box = frame.to_desktop(x, y, w, h) if frame is not None else (x, y, x + w, y + h)
            out.append(Element(str(role), str(name or ""), box, states,
                               app=self._names.get(ref[0], ""),
                               window=window or (str(name or "") if not path else ""),
                               path=(*path, str(role)), ref=ref))
            if text and interfaces and TEXT in interfaces:
                texts.append(i)
        if texts:
            read = self._many([Call(refs[i], TEXT, "GetText", "ii", (0, MAX_TEXT)) for i in texts],
                              deadline)  # (a web page's document holds the whole page's text)
            for i, value in zip(texts, read, strict=True):
                element = out[i]
                if value is not None and element is not None:
                    out[i] = _with(element, text=str(value)[:MAX_TEXT])
        return out

    def _window_at(self, windows: list[Element], x: int, y: int) -> Element | None:
        """The window a point falls in. Where the display server says which window is on top
        there: the tree's window that lies within it (None when that window has no tree: a
        Tk window over a GTK one hides the GTK one's elements); else the active one, else the
        smallest (a dialog over its main window)."""
        under = [w for w in windows if w.contains(x, y)]
        if not under:
            return None
        if self.topmost is not None:
            top = self.topmost(x, y)
            if top is not None:  # (a window manager's frame holds its client window)
                under = [w for w in under if _inside(w.box, top)]
                if not under:
                    return None
                return max(under, key=lambda w: ("active" in w.states,
                                                 (w.box[2] - w.box[0]) * (w.box[3] - w.box[1])))
        return min(under, key=lambda w: ("active" not in w.states,
                                         (w.box[2] - w.box[0]) * (w.box[3] - w.box[1])))

    # -- the interface --------------------------------------------------------------------------

    def at(self, x: int, y: int) -> Element | None:
        if (x, y) in self._points:
            return self._points[(x, y)]
        element = self._guarded(lambda: self._at(x, y, time.monotonic() + LOOKUP_BUDGET), None)
        self._points[(x, y)] = element
        return element

    def _at(self, x: int, y: int, deadline: float) -> Element | None:
        window = self._window_at(self.windows(deadline), x, y)
        if window is None or window.ref is None:
            return None
        frame = self._frames.get(window.ref)
        px, py = frame.to_window(x, y) if frame is not None else (x, y)
        chain: list[tuple[Ref, str]] = []  # the objects below the window, with their roles
        current = window.ref
        for _ in range(MAX_DEPTH):
            calls = [Call(current, COMPONENT, "GetAccessibleAtPoint", "iiu", (px, py, SCREEN))]
            if chain:
                calls.append(Call(current, ACCESSIBLE, "GetRoleName"))
            answers = self._many(calls, deadline)
            if chain:
                chain[-1] = (current, str(answers[1] or ""))
            child = answers[0]
            if child is None or child[1] == NULL or tuple(child) == current:
                break
            current = tuple(child)  # type: ignore[assignment]
            chain.append((current, ""))
        if chain and not chain[-1][1]:
            (role,) = self._many([Call(chain[-1][0], ACCESSIBLE, "GetRoleName")], deadline)
            chain[-1] = (chain[-1][0], str(role or ""))
        if not chain:
            return None
        # The element a click there means: the deepest one a user acts on, else the deepest.
        pick = max((i for i, (_, role) in enumerate(chain) if role in INTERACTIVE_ROLES),
                   default=len(chain) - 1)
        roles = (window.role, *(role for _, role in chain[:pick]))
        (element,) = self._describe([chain[pick][0]], deadline, window=window.name, path=roles,
                                    frame=frame)
        if element is None or element.box[2] - element.box[0] <= 1:
            return None  # a hidden node (closed menus report 1x1 boxes far off the screen)
        return element

    def find(self, role: str, name: str, window: str | None = None,
             near: tuple[int, int] | None = None) -> list[Element]:
        return self._guarded(lambda: self._find(role, name, window, near,
                                                time.monotonic() + FIND_BUDGET), [])

    def _find(self, role: str, name: str, window: str | None, near: tuple[int, int] | None,
              deadline: float) -> list[Element]:
        found = []
        for top in self._search_order(window, deadline, near):
            found += [e for e in self._walk(top, deadline, lambda e: e.role == role and e.name == name)
                      if self._seen(top, e)]
        return found

    def _seen(self, window: Element, element: Element) -> bool:
        """Whether the element's centre shows its own window (not one on top of it), where the
        display server can tell."""
        if self.topmost is None:
            return True
        top = self.topmost(*element.center)
        return top is None or _inside(window.box, top)

    def _search_order(self, window: str | None, deadline: float,
                      near: tuple[int, int] | None = None) -> list[Element]:
        """The windows to search, likeliest first (where the budget may run out): the one
        on top at ``near``, the others there, the active one."""
        windows = [w for w in self.windows(deadline) if window is None or w.name == window]
        first = self._window_at(windows, *near) if near is not None else None
        return sorted(windows, key=lambda w: (w is not first,
                                              near is None or not w.contains(*near),
                                              "active" not in w.states))

    def active_window(self) -> list[Element]:
        def work() -> list[Element]:
            deadline = time.monotonic() + FIND_BUDGET
            windows = self._search_order(None, deadline)
            if not windows:
                return []
            top = windows[0]
            kept = self._walk(top, deadline, lambda e: bool(e.name or e.text)
                              or e.role in INTERACTIVE_ROLES, with_text=True)
            return [top, *(e for e in kept if self._seen(top, e))]  # none under another window

        return self._guarded(work, [])

    def _walk(self, top: Element, deadline: float, keep: Callable[[Element], bool],
              with_text: bool = False) -> list[Element]:
        """The showing elements below a window that ``keep`` accepts, level by level (one
        round trip a level), within the deadline and MAX_NODES."""
        assert top.ref is not None
        kept: list[Element] = []
        level: list[tuple[Ref, tuple[str, ...]]] = [(top.ref, (top.role,))]
        read = 0
        while level and read < MAX_NODES and time.monotonic() < deadline:
            kids = self._many([Call(ref, ACCESSIBLE, "GetChildren") for ref, _ in level], deadline)
            below = [(tuple(k), path) for (_, path), ks in zip(level, kids, strict=True) if ks
                     for k in ks if k[1] != NULL][:MAX_NODES - read]
            read += len(below)
            described = self._describe([ref for ref, _ in below], deadline,  # type: ignore[misc]
                                       text=with_text, window=top.name,
                                       frame=self._frames.get(top.ref))
            level = []
            for (ref, path), element in zip(below, described, strict=True):
                if element is None or "showing" not in element.states:
                    continue
                element = _with(element, path=(*path, element.role), window=top.name)
                if keep(element) and element.box[2] - element.box[0] > 1:
                    kept.append(element)
                level.append((ref, element.path))  # type: ignore[arg-type]
        return kept

    def focused(self) -> Element | None:
        if self._focus is None:
            self._focus = (self._guarded(lambda: self._focused(time.monotonic() + FIND_BUDGET),
                                         None),)
        return self._focus[0]

    def _focused(self, deadline: float) -> Element | None:
        """The focused object of the active window; where no window says it is active
        (Chromium on an X server without a window manager), of the first window that has one."""
        windows = self.windows(deadline)
        active = [w for w in windows if "active" in w.states]
        for window in active or self._search_order(None, deadline):
            found = self._focus_in(window, deadline)
            if found is not None or active:
                return found
        return None

    def _focus_in(self, window: Element, deadline: float) -> Element | None:
        """A descent of a window level by level, reading only children and states (what is
        not showing is not entered), to the object whose states say focused."""
        if window.ref is None:
            return None
        level: list[Ref] = [window.ref]
        read = 0
        while level and read < MAX_NODES and time.monotonic() < deadline:
            kids = self._many([Call(ref, ACCESSIBLE, "GetChildren") for ref in level], deadline)
            below: list[Ref] = [tuple(k) for ks in kids if ks  # type: ignore[misc]
                                for k in ks if k[1] != NULL][:MAX_NODES - read]
            read += len(below)
            states = self._many([Call(ref, ACCESSIBLE, "GetState") for ref in below], deadline)
            level = []
            for ref, words in zip(below, states, strict=True):
                have = decode_states(words or [])
                if "focused" in have:
                    (element,) = self._describe([ref], deadline, window=window.name,
                                                frame=self._frames.get(window.ref))
                    return element
                if "showing" in have:
                    level.append(ref)
        return None

    def reread(self, element: Element) -> Element | None:
        if element.ref is None:
            return None

        def work() -> Element | None:
            deadline = time.monotonic() + LOOKUP_BUDGET
            frame = None
            if self.placement is not None:  # its window's frame now (the window may have moved)
                frame = next((self._frames[w.ref] for w in self.windows(deadline)
                              if w.ref and w.ref[0] == element.ref[0] and w.name == element.window
                              and w.ref in self._frames), None)  # type: ignore[index]
                if frame is None:
                    return None  # its window is not shown
            (now,) = self._describe([element.ref], deadline,  # type: ignore[list-item]
                                    window=element.window, path=element.path[:-1], frame=frame)
            if now is None or "defunct" in now.states:
                return None
            return now

        return self._guarded(work, None)

    def applications(self) -> list[str]:
        def work() -> list[str]:
            deadline = time.monotonic() + FIND_BUDGET
            apps = self._apps(deadline)
            names = self._app_names(apps, deadline)
            counts = self._many([prop(a, "ChildCount") for a in apps], deadline)
            return [n or a[0] for a, n, c in zip(apps, names, counts, strict=True) if c]

        return self._guarded(work, [])

    def forget(self) -> None:
        self._windows = None
        self._points = {}
        self._focus = None
        self._frames = {}
        if self.placement is not None:
            self.placement.forget()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.conn.close()
            for other in (self.topmost, self.placement):
                if other is not None:
                    with contextlib.suppress(Exception):
                        other.close()


def _inside(box: tuple[int, int, int, int], outer: tuple[int, int, int, int], slack: int = 2) -> bool:
    """Whether ``box`` lies within ``outer`` (give or take ``slack`` pixels)."""
    return (box[0] >= outer[0] - slack and box[1] >= outer[1] - slack
            and box[2] <= outer[2] + slack and box[3] <= outer[3] + slack)


def _with(element: Element, **changes: Any) -> Element:
    from dataclasses import replace

    return replace(element, **changes)

