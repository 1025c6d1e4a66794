"""The platforms, one module each, registered with ``PLATFORMS`` (desktop/platform.py): x11,
gnome (Mutter's D-Bus interfaces and PipeWire), wlroots (sway, Hyprland: the wlr protocols), kde
(KDE Plasma: KWin's ScreenShot2, fake input and global shortcuts) and generic (macOS, Windows:
mss, pyautogui and pynput, untested). Modules without a registration are what several platforms
share (capture through mss, input through XTEST)."""
