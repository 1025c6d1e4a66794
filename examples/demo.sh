#!/usr/bin/env bash
# The demo: open the demo form (examples/demo_form.py) on your display and let `tracer do` fill
# it in. Watch the mouse move and the live panel in this terminal.
#
#   bash examples/demo.sh            # driven by the scripted plan examples/demo_form.jsonl (no model)
#   bash examples/demo.sh --local    # driven by the default local model (downloaded on first use, 3.3 GB)
#   add --xvfb to either to use a virtual display, for machines without a screen
set -euo pipefail
cd "$(dirname "$0")/.."
tracer=.venv/bin/tracer
python=.venv/bin/python
[ -x "$tracer" ] || { echo "run 'bash examples/install.sh' first"; exit 2; }

local_model=0
use_xvfb=0
for arg in "$@"; do
  case "$arg" in
    --local) local_model=1 ;;
    --xvfb) use_xvfb=1 ;;
    *) echo "usage: bash examples/demo.sh [--local] [--xvfb]"; exit 2 ;;
  esac
done

out=$(mktemp -d)
cleanup() {
  [ -n "${form_pid:-}" ] && kill "$form_pid" 2>/dev/null || true
  [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
}
trap cleanup EXIT

if [ "$use_xvfb" = 1 ]; then
  exec {fd}<> <(:)
  Xvfb -displayfd "$fd" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  read -r -u "$fd" number
  export DISPLAY=":$number"
  echo "virtual display $DISPLAY"
fi
[ -n "${DISPLAY:-}" ] || { echo "no DISPLAY: run this in your desktop session, or use --xvfb"; exit 2; }

task="fill in the demo form with the name Ada Lovelace and the colour Green, then submit it"
if [ "$local_model" = 1 ]; then
  "$tracer" models path qwen3-vl-4b-instruct >/dev/null
  [ -f "$("$tracer" models path qwen3-vl-4b-instruct | head -1)" ] || "$tracer" models pull qwen3-vl-4b-instruct
  planner=(--backend llama --max-steps 12)
else
  planner=(--backend script --script examples/demo_form.jsonl)
fi

"$python" examples/demo_form.py --out "$out/form.json" &
form_pid=$!
timeout 15 xdotool search --sync --name "tracer demo form" >/dev/null || { echo "the demo form did not open"; exit 1; }

"$tracer" do "$task" "${planner[@]}" --yes
echo "the form received: $(cat "$out/form.json" 2>/dev/null || echo nothing)"
