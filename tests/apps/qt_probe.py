"""A Qt 5 test program that is both a small form and a probe logging what it receives: a form on
top (a name field, two radio buttons, a check box), a canvas below it that changes colour at each
click. Run it with the system Python that has PyQt5 (Debian: python3-pyqt5), natively on
Wayland with QT_QPA_PLATFORM=wayland (Debian: qtwayland5):

    /usr/bin/python3 qt_probe.py LOG [TITLE]        (PROBE_FULLSCREEN=1: fill the output)

LOG gets one JSON object a line, each with "t" (time.monotonic(), the clock every process of the
machine shares):
  {"event": "ready", "w": .., "h": .., "scale": .., "boxes": {name: [x, y, w, h]}}
                                        first drawn; window size and each widget's rectangle in
                                        window coordinates (logical units)
  {"event": "press", "x": .., "y": .., "button": ..}      on the canvas, in window coordinates
  {"event": "scroll", "direction": "up"|"down"}
  {"event": "key", "down": true|false, "name": .., "char": ..}   every key pressed and let go
  {"event": "text", "text": ..}                           the name field's text after each change
  {"event": "state", "name": .., "size": "small"|"large", "agree": ..}   after each change
The caret does not blink (a blinking caret would keep the screen from settling).
"""

from __future__ import annotations

import json
import os
import sys
import time

from PyQt5.QtCore import QEvent, QObject, Qt, QTimer
from PyQt5.QtGui import QColor, QKeySequence, QPainter
from PyQt5.QtWidgets import (
    QApplication,
    QCheckBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

COLOURS = [QColor(51, 102, 204), QColor(204, 77, 51), QColor(51, 179, 77)]
MODIFIERS = {Qt.Key_Shift: "Shift", Qt.Key_Control: "Control", Qt.Key_Alt: "Alt",
             Qt.Key_Meta: "Meta", Qt.Key_AltGr: "AltGr"}


def main() -> None:
    log = open(sys.argv[1], "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def emit(event: str, **fields: object) -> None:
        log.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")

    app = QApplication(sys.argv[:1])
    app.setCursorFlashTime(0)  # no blinking caret
    window = QWidget()
    window.setWindowTitle(sys.argv[2] if len(sys.argv) > 2 else "qt probe")
    state = {"clicks": 0, "ready": False}

    class Canvas(QWidget):
        def paintEvent(self, _event: object) -> None:  # noqa: N802 - Qt's name
            painter = QPainter(self)
            painter.fillRect(self.rect(), COLOURS[state["clicks"] % 3])
            painter.end()
            if not state["ready"]:
                state["ready"] = True
                QTimer.singleShot(0, ready)

        def mousePressEvent(self, event: object) -> None:  # noqa: N802
            pos = event.windowPos()  # type: ignore[attr-defined]
            emit("press", x=pos.x(), y=pos.y(), button=int(event.button()))  # type: ignore[attr-defined]
            state["clicks"] += 1
            self.update()

        def wheelEvent(self, event: object) -> None:  # noqa: N802
            dy = event.angleDelta().y()  # type: ignore[attr-defined]
            emit("scroll", direction="up" if dy > 0 else "down")

    grid = QGridLayout()
    title = QLabel("<b>Order a T-shirt</b>")
    grid.addWidget(title, 0, 0, 1, 3)
    grid.addWidget(QLabel("Name"), 1, 0)
    name = QLineEdit()
    grid.addWidget(name, 1, 1, 1, 2)
    grid.addWidget(QLabel("Size"), 2, 0)
    small = QRadioButton("Small (fits most people)")
    large = QRadioButton("Large (fits most people)")
    small.setChecked(True)
    grid.addWidget(small, 2, 1)
    grid.addWidget(large, 2, 2)
    agree = QCheckBox("Send me the monthly newsletter")
    grid.addWidget(agree, 3, 0, 1, 3)
    canvas = Canvas()
    canvas.setMinimumHeight(200)
    grid.setContentsMargins(11, 11, 11, 11)
    layout = QVBoxLayout(window)
    layout.setContentsMargins(0, 0, 0, 0)  # the canvas reaches the window's edges
    layout.addLayout(grid)
    layout.addWidget(canvas, 1)
    widgets = {"title": title, "name": name, "small": small, "large": large, "agree": agree,
               "canvas": canvas}

    def boxes() -> dict[str, list[int]]:
        found = {}
        for key, widget in widgets.items():
            origin = widget.mapTo(window, widget.rect().topLeft())
            found[key] = [origin.x(), origin.y(), widget.width(), widget.height()]
        return found

    def ready() -> None:
        emit("ready", w=window.width(), h=window.height(), scale=window.devicePixelRatioF(),
             boxes=boxes())

    def changed() -> None:
        emit("state", name=name.text(), size="large" if large.isChecked() else "small",
             agree=agree.isChecked())

    class Keys(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
            # once per key: where it is delivered first (the focused widget, else the window)
            if event.type() in (QEvent.KeyPress, QEvent.KeyRelease) and \
                    obj is (app.focusWidget() or window) and \
                    not event.isAutoRepeat():  # type: ignore[attr-defined]
                key = event.key()  # type: ignore[attr-defined]
                emit("key", down=event.type() == QEvent.KeyPress,
                     name=MODIFIERS.get(key) or QKeySequence(key).toString() or str(key),
                     char=event.text())  # type: ignore[attr-defined]
            return False

    keys = Keys()
    app.installEventFilter(keys)
    name.textChanged.connect(lambda text: (emit("text", text=text), changed()))
    large.toggled.connect(lambda _on: changed())
    agree.toggled.connect(lambda _on: changed())
    window.resize(900, 600)
    if os.environ.get("PROBE_FULLSCREEN") == "1":  # the whole output
        window.showFullScreen()
    else:
        window.show()
    name.setFocus(Qt.OtherFocusReason)
    sys.exit(app.exec_())


if __name__ == "__main__":
    main()
