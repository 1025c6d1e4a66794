#!/usr/bin/env bash
# The demo: open the demo form (examples/demo_form.py) on your display and let `tracer do` fill
# it in, driven by the scripted plan in examples/demo_form.jsonl (no model needed). Watch the
# mouse move and the live panel in this terminal.
#
#   bash examples/demo.sh           # on your desktop (DISPLAY must be set)
#   bash examples/demo.sh --xvfb    # on a virtual display, for machines without a screen
set -euo pipefail
cd "$(dirname "$0")/.."
tracer=.venv/bin/tracer
python=.venv/bin/python
[ -x "$tracer" ] || { echo "run 'bash examples/install.sh' first"; exit 2; }

out=$(mktemp -d)
cleanup() {
  [ -n "${form_pid:-}" ] && kill "$form_pid" 2>/dev/null || true
  [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
}
trap cleanup EXIT

if [ "${1:-}" = "--xvfb" ]; then
  exec {fd}<> <(:)
  Xvfb -displayfd "$fd" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  read -r -u "$fd" number
  export DISPLAY=":$number"
  echo "virtual display $DISPLAY"
fi
[ -n "${DISPLAY:-}" ] || { echo "no DISPLAY: run this in your desktop session, or use --xvfb"; exit 2; }

"$python" examples/demo_form.py --out "$out/form.json" &
form_pid=$!
timeout 15 xdotool search --sync --name "tracer demo form" >/dev/null || { echo "the demo form did not open"; exit 1; }

"$tracer" do "fill in the demo form with the name Ada Lovelace and the colour Green" \
  --backend script --script examples/demo_form.jsonl --yes
echo "the form received: $(cat "$out/form.json")"
