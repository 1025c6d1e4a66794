#!/usr/bin/env bash
# Set tracer up on a fresh Debian/Ubuntu machine: system packages, a virtual environment in
# .venv, and tracer installed into it (editable). With --test, also what the test suite needs.
#
#   bash examples/install.sh          # to use tracer
#   bash examples/install.sh --test   # to run the tests as well
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(python3-venv python3-tk xdotool libgl1 libglib2.0-0 tesseract-ocr)
lean=()  # installed without their recommended packages (kwin-wayland would pull in ~370 more)
packages+=(xvfb xserver-xephyr openbox)  # sandbox desktops (tracer sandbox, do --sandbox, batch, bench)
# GNOME on Wayland: the screen arrives through PipeWire, read by GStreamer's pipewiresrc
# (gst-launch-1.0); custom shortcuts for the kill and pause hotkeys are written with gsettings
packages+=(gstreamer1.0-pipewire gstreamer1.0-tools gstreamer1.0-plugins-base libglib2.0-bin libxkbcommon0)
extra=""
if [ "${1:-}" = "--test" ]; then
  # chromium: the report test and a test page; python3-gi + gir1.2-gtk-3.0 (+ python3-gi-cairo
  # for drawing): GTK 3 test programs (run by /usr/bin/python3); sway + xwayland: the wlroots
  # tests' headless compositor (acl: setfacl lets the tests' user reach its sockets)
  packages+=(xvfb xterm x11-utils x11-xserver-utils python3-gi gir1.2-gtk-3.0 python3-gi-cairo
             chromium sway xwayland acl)
  # headless GNOME sessions: mutter alone (fast) and gnome-shell with gsd-media-keys (the
  # custom shortcuts) and IBus; PipeWire with WirePlumber; Xwayland for an X11 test program
  packages+=(mutter gnome-shell gnome-settings-daemon pipewire pipewire-bin wireplumber
             dbus dconf-cli ibus)
  # kwin-wayland: the KDE tests' headless KWin; qtwayland5 + python3-pyqt5: their Qt 5 test
  # program native on Wayland (run by /usr/bin/python3)
  lean+=(kwin-wayland qtwayland5 python3-pyqt5)
  # at-spi2-core: the accessibility bus (at-spi-bus-launcher, the registry) that the tests of
  # elements start for their own display, inside a private session bus (dbus)
  packages+=(at-spi2-core)
  extra="[test]"
fi

not_installed() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
mapfile -t missing < <(not_installed "${packages[@]}")
mapfile -t missing_lean < <(not_installed "${lean[@]}")
if [ $((${#missing[@]} + ${#missing_lean[@]})) -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]} ${missing_lean[*]}"
  $sudo apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#missing_lean[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing_lean[@]}" >/dev/null
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${extra}"
echo "tracer installed: $(.venv/bin/tracer --version)  (activate with: . .venv/bin/activate)"
