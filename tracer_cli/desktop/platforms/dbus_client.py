"""A small threaded D-Bus client over jeepney (pure Python), for the GNOME and KDE platforms:
method calls from any thread, properties, file descriptors passed both ways, signals and method
calls addressed to us delivered to callbacks on threads of their own, and a callback when the bus
connection breaks.

jeepney is imported by the functions that use it: importing this module costs nothing."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any


class BusError(RuntimeError):
    """A D-Bus error reply: its name and message."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}")
        self.name = name
        self.text = text


class Bus:
    """One connection to a bus (``address``: a D-Bus address, or SESSION)."""

    def __init__(self, address: str = "SESSION", timeout: float = 10.0) -> None:
        from jeepney.io.threading import DBusRouter, open_dbus_connection

        self.conn = open_dbus_connection(address, enable_fds=True)
        self.router = DBusRouter(self.conn)
        self.timeout = timeout
        self._handles: list[tuple[Any, queue.Queue[Any]]] = []
        self.closed = False

    @property
    def unique_name(self) -> str:
        return str(self.conn.unique_name)

    def call(self, dest: str, path: str, iface: str, method: str, sig: str = "",
             body: tuple[Any, ...] = (), timeout: float | None = None) -> tuple[Any, ...]:
        from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call

        msg = new_method_call(DBusAddress(path, bus_name=dest, interface=iface), method,
                              sig or None, body)
        reply = self.router.send_and_get_reply(msg, timeout=timeout or self.timeout)
        if reply.header.message_type == MessageType.error:
            name = reply.header.fields.get(HeaderFields.error_name, "?")
            raise BusError(name, str(reply.body[0]) if reply.body else "")
        return tuple(reply.body)

    def get_property(self, dest: str, path: str, iface: str, name: str) -> Any:
        (variant,) = self.call(dest, path, "org.freedesktop.DBus.Properties", "Get", "ss",
                               (iface, name))
        return variant[1]

    def set_property(self, dest: str, path: str, iface: str, name: str,
                     value: tuple[str, Any]) -> None:
        self.call(dest, path, "org.freedesktop.DBus.Properties", "Set", "ssv", (iface, name, value))

    def introspect(self, dest: str, path: str) -> str:
        """The object's introspection XML (what methods and properties it offers)."""
        return str(self.call(dest, path, "org.freedesktop.DBus.Introspectable", "Introspect")[0])

    def has_owner(self, name: str) -> bool:
        return bool(self.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                              "org.freedesktop.DBus", "NameHasOwner", "s", (name,))[0])

    def _deliver(self, rule: Any, callback: Callable[[Any], None], name: str) -> Callable[[], None]:
        """Call ``callback(message)`` for each message matching ``rule``, on a thread of its own;
        returns what stops it."""
        messages: queue.Queue[Any] = queue.Queue(maxsize=10000)
        handle = self.router.filter(rule, queue=messages)
        entry = (handle, messages)
        self._handles.append(entry)

        def pump() -> None:
            while (msg := messages.get()) is not None:
                with contextlib.suppress(Exception):  # a delivery thread must not die
                    callback(msg)

        threading.Thread(target=pump, daemon=True, name=name).start()

        def stop() -> None:
            if entry in self._handles:
                self._handles.remove(entry)
                handle.close()
                messages.put(None)

        return stop

    def subscribe(self, callback: Callable[[Any], None], *, sender: str | None = None,
                  path: str | None = None, interface: str | None = None,
                  member: str | None = None, arg0: str | None = None) -> Callable[[], None]:
        """Call ``callback(message)`` for every matching signal, on a thread of this
        subscription's; returns what unsubscribes."""
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus

        rule = MatchRule(type="signal", sender=sender, path=path, interface=interface,
                         member=member)
        if arg0 is not None:
            rule.add_arg_condition(0, arg0)
        self.router.send_and_get_reply(message_bus.AddMatch(rule), timeout=self.timeout)
        stop = self._deliver(rule, callback, f"dbus-{member}")

        def unsubscribe() -> None:
            stop()
            if not self.closed:
                with contextlib.suppress(Exception):
                    self.router.send_and_get_reply(message_bus.RemoveMatch(rule),
                                                   timeout=self.timeout)

        return unsubscribe

    def serve(self, interface: str, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``callback(message)`` for each method call of ``interface`` sent to this
        connection (no reply is sent: the callers here do not wait for one)."""
        from jeepney import MatchRule

        return self._deliver(MatchRule(type="method_call", interface=interface), callback,
                             f"dbus-{interface}")

    def on_disconnect(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (on a thread of its own) when the connection breaks: the bus,
        and the session with it, went away. Not called after ``close()``."""
        receiver = self.router._rcv_thread  # jeepney's receiver ends when the connection does

        def wait() -> None:
            receiver.join()
            if not self.closed:
                callback()

        threading.Thread(target=wait, daemon=True, name="dbus-disconnect").start()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for handle, messages in self._handles:
            handle.close()
            messages.put(None)
        self._handles.clear()
        with contextlib.suppress(Exception):
            self.router.close()
        with contextlib.suppress(Exception):
            self.conn.close()
