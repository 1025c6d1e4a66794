#!/usr/bin/env bash
# The demo: open the demo form (examples/demo_form.py) on your display and let `tracer do` fill
# it in. Watch the mouse move and the live panel in this terminal.
#
#   bash examples/demo.sh              # the default local model (Qwen3-VL 4B): asks before its
#                                      # 3.3 GB download; after a no, without a terminal, or
#                                      # without a connection to the model hub, the scripted
#                                      # plan instead (a no, or an unreachable hub, is
#                                      # remembered: the next runs do not ask or try again)
#   bash examples/demo.sh --local      # the local model (downloaded without asking), or fail
#   bash examples/demo.sh --scripted   # the scripted plan examples/demo_form.jsonl (no model)
#   add --xvfb to use a virtual display, for machines without a screen
#   TRACER_BIN=... TRACER_PYTHON=...   another tracer and Python than .venv's
set -euo pipefail
cd "$(dirname "$0")/.."
tracer=${TRACER_BIN:-.venv/bin/tracer}
python=${TRACER_PYTHON:-.venv/bin/python}
[ -x "$tracer" ] || { echo "run 'bash examples/install.sh' first"; exit 2; }

mode=auto
use_xvfb=0
for arg in "$@"; do
  case "$arg" in
    --local) mode=local ;;
    --scripted) mode=scripted ;;
    --xvfb) use_xvfb=1 ;;
    *) echo "usage: bash examples/demo.sh [--local | --scripted] [--xvfb]"; exit 2 ;;
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
model=$("$tracer" models default)  # the 2B on a CPU, the 4B where llama.cpp has a GPU
if [ "$mode" = local ]; then
  [ -f "$("$tracer" models path "$model" | head -1)" ] || "$tracer" models pull "$model" >/dev/null || exit 2
elif [ "$mode" = auto ] && ! "$tracer" models pull "$model" --ask >/dev/null; then
  echo "no $model here: using the scripted plan (bash examples/demo.sh --local downloads it)"
  mode=scripted
fi
if [ "$mode" = scripted ]; then
  planner=(--backend script --script examples/demo_form.jsonl)
else
  planner=(--backend llama --model "$model" --max-steps 12)
fi

"$python" examples/demo_form.py --out "$out/form.json" &
form_pid=$!
timeout 15 xdotool search --sync --name "tracer demo form" >/dev/null || { echo "the demo form did not open"; exit 1; }

"$tracer" do "$task" "${planner[@]}" --yes
echo "the form received: $(cat "$out/form.json" 2>/dev/null || echo nothing)"
