"""The native-format profiles: Qwen3-VL tool calls, UI-TARS-1.5 actions, OpenCUA code and Holo
steps, read into our Plan."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image

from tests.fakes import examples
from tracer_cli.agent.profiles import PROFILES, HistoryEntry, PlanRequest
from tracer_cli.desktop.screen import data_url
from tracer_cli.errors import PlanError
from tracer_cli.plan import COORD_MAX, Plan, step_dict

WIDTH, HEIGHT = 1288, 728  # multiples of 28, as tracer sends them to UI-TARS-1.5
IMAGE = Image.new("RGB", (WIDTH, HEIGHT), (40, 80, 120))
HISTORY = [HistoryEntry(1, "click (500,250) 'the File menu'", "the screen changed"),
           HistoryEntry(2, "type 'report'", "no visible change")]


def request(horizon: int = 3, history: list[HistoryEntry] | None = None) -> PlanRequest:
    return PlanRequest("Save the document as report.txt", IMAGE, horizon,
                       HISTORY if history is None else history)


@pytest.fixture
def qwen() -> Any:
    return PROFILES.get("qwen3-vl")()


@pytest.fixture
def tars() -> Any:
    return PROFILES.get("ui-tars")()


def steps(plan: Plan) -> list[dict[str, Any]]:
    """The plan's steps without their notes (what a step does)."""
    return [{k: v for k, v in step_dict(s).items() if k != "notes"} for s in plan.trajectory]


def call(arguments: dict[str, Any], indent: int | None = None) -> str:
    body = json.dumps({"name": "computer_use", "arguments": arguments}, indent=indent)
    return f"<tool_call>\n{body}\n</tool_call>"


def user_parts(messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
    text, urls = "", []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            text += content + "\n"
            continue
        for part in content:
            if part["type"] == "text":
                text += part["text"] + "\n"
            else:
                urls.append(part["image_url"]["url"])
    return text, urls


# --- registry ---------------------------------------------------------------------------------

def test_registry_finds_the_native_profiles() -> None:
    assert PROFILES.get("qwen3-vl")().name == "qwen3-vl"
    assert PROFILES.get("ui-tars")().name == "ui-tars"
    assert {"qwen3-vl", "tracer1", "ui-tars", "opencua", "holo"} <= set(PROFILES.names())
    assert PROFILES.get("opencua")().name == "opencua" and PROFILES.get("holo")().name == "holo"


def test_registry_lists_what_modules_register_not_the_modules() -> None:
    """profiles/ui_tars.py registers two profiles; profiles/geometry.py, a helper, none."""
    names = PROFILES.names()
    assert "ui-tars-v1" in names and "geometry" not in names
    assert PROFILES.get("ui-tars-v1")().geometry.coordinates == "relative"


# --- qwen3-vl: prompt -------------------------------------------------------------------------

def test_qwen_messages_declare_the_tool_and_carry_task_history_and_image(qwen: Any) -> None:
    messages = qwen.messages(request(horizon=4))
    system = messages[0]["content"]
    assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
    tools = system.split("<tools>\n")[1].split("\n</tools>")[0]
    tool = json.loads(tools)["function"]
    assert tool["name"] == "computer_use"
    assert "The screen's resolution is 1000x1000." in tool["description"]
    actions = tool["parameters"]["properties"]["action"]["enum"]
    assert {"left_click", "key", "type", "scroll", "terminate", "answer", "left_click_drag"} <= set(actions)
    assert "Positive values scroll up" in tool["parameters"]["properties"]["pixels"]["description"]
    assert "at most 4" in system and "<tool_call>" in system
    text, urls = user_parts(messages[1:])
    assert "Save the document as report.txt" in text
    # OSWorld's Qwen3-VL instruction text, earlier steps as "Step i:" lines
    assert "Instruction: Save the document as report.txt\n\nPrevious actions:\n" in text
    assert "Step 1: click (500,250) 'the File menu' -> the screen changed" in text
    assert "Step 2: type 'report' -> no visible change" in text
    assert urls == [data_url(IMAGE)]
    assert qwen.schema(4) is None


def test_qwen_with_history_images_sends_the_latest_steps_as_turns(qwen: Any) -> None:
    shot = Image.new("RGB", (WIDTH, HEIGHT), (200, 0, 0))
    history = [HistoryEntry(1, "click (1,1) 'a'", "ok", answer="Action: first"),
               HistoryEntry(2, "type 'b'", "ok", summary="Type b", answer="Action: second",
                            image=shot)]
    messages = qwen.messages(PlanRequest("Do it", IMAGE, 3, history, history_images=1))
    text, urls = user_parts(messages[1:2])
    assert "Step 1: click (1,1) 'a' -> ok" in text and "Step 2" not in text
    assert [m["role"] for m in messages] == ["system", "user", "user", "assistant", "user"]
    assert messages[3]["content"] == "Action: second"
    assert user_parts(messages)[1] == [data_url(shot), data_url(IMAGE)]


def test_qwen_retry_message_is_a_user_turn_with_the_reason(qwen: Any) -> None:
    message = qwen.retry_message("tool call 1: unknown action 'fly'")
    assert message["role"] == "user" and "unknown action 'fly'" in message["content"]
    assert "<tool_call>" in message["content"]


# --- qwen3-vl: answers ------------------------------------------------------------------------

FORECAST = """The Save As dialog is open and the "File name" field is empty. I will click the \
field, type the name, then press Enter to save.
Action: Click the "File name" text field in the Save As dialog.
<tool_call>
{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [512, 344]}}
</tool_call>
Action: Type the file name report.txt.
<tool_call>
{"name": "computer_use",
 "arguments": {
    "action": "type",
    "text": "report.txt"
 }}
</tool_call>
Action: Press Enter to confirm.
<tool_call>
{"name": "computer_use", "arguments": {"action": "key", "keys": ["enter"]}}
</tool_call>"""


def test_qwen_reads_a_forecast_of_several_tool_calls(qwen: Any) -> None:
    plan = qwen.parse(FORECAST, request())
    assert steps(plan) == [
        {"action": "click", "x": 512, "y": 344,
         "target": 'Click the "File name" text field in the Save As dialog.'},
        {"action": "type", "text": "report.txt"},
        {"action": "hotkey", "keys": ["enter"]},
    ]
    assert plan.thought.startswith("The Save As dialog is open")


def test_qwen_keeps_at_most_horizon_steps(qwen: Any) -> None:
    assert len(qwen.parse(FORECAST, request(horizon=2)).trajectory) == 2
    assert steps(qwen.parse(FORECAST, request(horizon=1))) == [
        {"action": "click", "x": 512, "y": 344,
         "target": 'Click the "File name" text field in the Save As dialog.'}]


def test_qwen_thinking_variant_and_unclosed_last_block(qwen: Any) -> None:
    text = ("<think>\nThe menu bar shows File. Opening it gives the Save As entry.\n</think>\n"
            "Action: Open the File menu.\n<tool_call>\n"
            '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [31.6, 12.4]}}')
    plan = qwen.parse(text, request())
    assert steps(plan) == [{"action": "click", "x": 32, "y": 12, "target": "Open the File menu."}]
    assert "Save As entry" in plan.thought


def test_qwen_click_without_action_line_takes_the_line_before_it(qwen: Any) -> None:
    text = "I should press the OK button.\n" + call({"action": "double_click", "coordinate": [10, 990]})
    assert steps(qwen.parse(text, request())) == [
        {"action": "double_click", "x": 10, "y": 990, "target": "I should press the OK button."}]
    bare = call({"action": "right_click", "coordinate": [0, 1000]})
    assert steps(qwen.parse(bare, request())) == [{"action": "right_click", "x": 0, "y": 1000, "target": ""}]


def test_qwen_accepts_tool_calls_without_tags_and_string_arguments(qwen: Any) -> None:
    bare = ('Action: Wait for the window.\n'
            '{"name": "computer_use", "arguments": {"action": "wait", "time": 3}}')
    assert steps(qwen.parse(bare, request())) == [{"action": "wait", "seconds": 3.0}]
    stringly = ('<tool_call>{"name": "computer_use", "arguments": '
                '"{\\"action\\": \\"type\\", \\"text\\": \\"hi\\\\n\\"}"}</tool_call>')
    assert steps(qwen.parse(stringly, request())) == [{"action": "type", "text": "hi\n"}]


@pytest.mark.parametrize(("keys", "expected"), [
    (["ctrl", "c"], ["ctrl", "c"]),
    (["Control", "Shift", "T"], ["ctrl", "shift", "t"]),
    (["ctrl+s"], ["ctrl", "s"]),
    ("Return", ["enter"]),
    (["ArrowLeft"], ["left"]),
])
def test_qwen_key_becomes_a_hotkey(qwen: Any, keys: Any, expected: list[str]) -> None:
    plan = qwen.parse(call({"action": "key", "keys": keys}), request())
    assert steps(plan) == [{"action": "hotkey", "keys": expected}]


@pytest.mark.parametrize(("arguments", "expected"), [
    ({"action": "scroll", "coordinate": [500, 600], "pixels": -5}, (500, 600, -5)),
    ({"action": "scroll", "coordinate": [500, 600], "pixels": 3.4}, (500, 600, 3)),
    ({"action": "scroll", "coordinate": [500, 600], "pixels": 0.2}, (500, 600, 1)),
    ({"action": "scroll", "pixels": -500}, (None, None, -50)),
])
def test_qwen_scroll_pixels_are_wheel_clicks_positive_up(
        qwen: Any, arguments: dict[str, Any], expected: tuple[int | None, int | None, int]) -> None:
    """Without a coordinate the wheel turns at the pointer (OSWorld's executor), not the centre."""
    x, y, dy = expected
    where = {} if x is None else {"x": x, "y": y}
    assert steps(qwen.parse(call(arguments), request())) == [{"action": "scroll", **where, "dy": dy}]


def test_qwen_mouse_move_sets_the_cursor_for_drag_scroll_and_clicks(qwen: Any) -> None:
    text = (call({"action": "mouse_move", "coordinate": [100, 200]})
            + call({"action": "left_click_drag", "coordinate": [300, 400]})
            + call({"action": "scroll", "pixels": 2})
            + call({"action": "left_click"}))
    assert steps(qwen.parse(text, request(horizon=5))) == [
        {"action": "drag", "x": 100, "y": 200, "x2": 300, "y2": 400},
        {"action": "scroll", "x": 300, "y": 400, "dy": 2},
        {"action": "click", "x": 300, "y": 400, "target": ""},
    ]
    explicit = call({"action": "left_click_drag", "start_coordinate": [1, 2], "coordinate": [3, 4]})
    assert steps(qwen.parse(explicit, request())) == [{"action": "drag", "x": 1, "y": 2, "x2": 3, "y2": 4}]


def test_qwen_terminal_calls(qwen: Any) -> None:
    answer = (call({"action": "answer", "text": "The total is 42."})
              + call({"action": "terminate", "status": "success"}))
    assert steps(qwen.parse(answer, request())) == [{"action": "done", "answer": "The total is 42."}]
    success = call({"action": "left_click", "coordinate": [5, 5]}) + call(
        {"action": "terminate", "status": "success"}) + call({"action": "type", "text": "never"})
    assert [s["action"] for s in steps(qwen.parse(success, request()))] == ["click", "done"]
    failure = "Action: Give up, the file does not exist.\n" + call(
        {"action": "terminate", "status": "failure"})
    (fail,) = steps(qwen.parse(failure, request()))
    assert fail["action"] == "fail" and "the file does not exist" in fail["reason"]
    waited = call({"action": "wait"}) + call({"action": "wait", "time": 600})
    assert steps(qwen.parse(waited, request())) == [{"action": "wait", "seconds": 2.0},
                                                     {"action": "wait", "seconds": 60.0}]


@pytest.mark.parametrize(("text", "reason"), [
    ("", "no tool call"),
    ("I think I should click the button.", "no tool call"),
    ("<tool_call>\n{\"name\": \"computer_use\", \"arguments\": {\"action\": }\n</tool_call>",
     "tool call 1 is not a JSON object (Expecting value"),
    ('<tool_call>{"name": "browser", "arguments": {"action": "left_click"}}</tool_call>',
     "only function is 'computer_use'"),
    (call({"action": "middle_click", "coordinate": [1, 2]}), "unknown action 'middle_click'"),
    (call({"action": "fly"}), "tool call 1: unknown action 'fly'"),
    (call({"action": "left_click", "coordinate": [1523, 80]}), "outside the 1000x1000 screen"),
    (call({"action": "left_click", "coordinate": [-3, 80]}), "outside the 1000x1000 screen"),
    (call({"action": "left_click", "coordinate": [5]}), "coordinate must be [x, y]"),
    (call({"action": "left_click"}), "coordinate is missing"),
    (call({"action": "left_click_drag", "coordinate": [3, 4]}), "needs where to start"),
    (call({"action": "mouse_move", "coordinate": [3, 4]}), "only moves the mouse"),
    (call({"action": "scroll", "pixels": 0}), "non-zero number"),
    (call({"action": "key", "keys": ["hyper"]}), "unknown key 'hyper'"),
    (call({"action": "type", "text": "a\x07b"}), "control characters"),
    (call({"action": "terminate", "status": "maybe"}), "\"success\" or \"failure\""),
    ('<tool_call>{"name": "computer_use", "arguments": {"action": "scroll", "pixels": NaN}}</tool_call>',
     "non-zero number"),
])
def test_qwen_rejects_with_a_precise_reason(qwen: Any, text: str, reason: str) -> None:
    with pytest.raises(PlanError) as caught:
        qwen.parse(text, request())
    assert reason in caught.value.message


def test_qwen_grounding(qwen: Any) -> None:
    messages = qwen.ground_messages(IMAGE, "the Save button")
    text, urls = user_parts(messages)
    assert "the Save button" in text and urls == [data_url(IMAGE)]
    assert '"enum": ["left_click"]' in messages[0]["content"]
    answer = "Action: Click Save.\n" + call({"action": "left_click", "coordinate": [871, 912]}, indent=2)
    assert qwen.parse_point(answer, IMAGE.size) == (871, 912)
    assert qwen.parse_point('[{"point_2d": [120, 45], "label": "Save"}]', IMAGE.size) == (120, 45)
    assert qwen.parse_point('{"bbox_2d": [100, 40, 140, 50]}', IMAGE.size) == (120, 45)
    for bad, reason in [("The Save button is at the bottom right.", "holds no point"),
                        (call({"action": "left_click", "coordinate": [1871, 912]}), "outside")]:
        with pytest.raises(PlanError, match=reason):
            qwen.parse_point(bad, IMAGE.size)


# --- ui-tars: prompt --------------------------------------------------------------------------

def test_tars_messages_follow_the_computer_use_template(tars: Any) -> None:
    messages = tars.messages(request())
    text, urls = user_parts(messages)
    for heading in ("## Output Format", "## Action Space", "## Note", "## User Instruction"):
        assert heading in text
    assert "Thought: ...\nAction: ..." in text
    assert "click(point='<point>x1 y1</point>')" in text
    assert "hotkey(key='ctrl c')" in text and "finished(content='xxx')" in text
    assert "## User Instruction\nSave the document as report.txt" in text
    assert "Use English in `Thought` part." in text
    assert urls == [data_url(IMAGE)]
    assert tars.schema(3) is None


def test_tars_history_is_its_own_replies_with_the_latest_screenshots(tars: Any) -> None:
    """As OSWorld's uitars15_v1 agent sends it: system, the prompt, then for each earlier step
    its screenshot (only the latest N) and the model's raw reply, then the current screenshot."""
    shots = [Image.new("RGB", (WIDTH, HEIGHT), (i * 40, 0, 0)) for i in range(4)]
    replies = [f"Thought: step {i}.\nAction: click(point='<point>{i} {i}</point>')" for i in range(4)]
    history = [HistoryEntry(i + 1, f"click {i}", "ok", answer=replies[i], image=shots[i])
               for i in range(4)]
    req = PlanRequest("Save the document", IMAGE, 1, history, history_images=2)
    messages = tars.messages(req)
    roles = [m["role"] for m in messages]
    assert roles == ["system", "user", "assistant", "assistant", "user", "assistant", "user",
                     "assistant", "user"]
    assert messages[0]["content"] == "You are a helpful assistant."
    assert [m["content"] for m in messages if m["role"] == "assistant"] == replies
    images = [p["image_url"]["url"] for m in messages if isinstance(m["content"], list)
              for p in m["content"] if p["type"] == "image_url"]
    assert images == [data_url(shots[2]), data_url(shots[3]), data_url(IMAGE)]
    assert "Note from the executor" not in str(messages[-1])  # every step went as planned


def test_tars_is_told_what_went_wrong_after_the_current_screenshot(tars: Any) -> None:
    history = [HistoryEntry(1, "click (5,5) 'Save'", "ok (no visible effect)",
                            answer="Action: click(point='<point>5 5</point>')")]
    messages = tars.messages(PlanRequest("Save", IMAGE, 1, history))
    last = messages[-1]["content"]
    assert last[0]["type"] == "image_url"
    assert "Step 1 (click (5,5) 'Save') -> ok (no visible effect)" in last[1]["text"]


def test_tars_retry_message(tars: Any) -> None:
    message = tars.retry_message("unknown action 'fly'")
    assert message["role"] == "user" and "unknown action 'fly'" in message["content"]
    assert "Action:" in message["content"]


# --- ui-tars: answers -------------------------------------------------------------------------

def test_tars_click_with_a_multiline_thought(tars: Any) -> None:
    text = ("Thought: The Save As dialog is open. The file name field is still empty, so I need to "
            "focus it first.\nThen I can type the name. I'll click the File name field in the "
            "middle of the dialog.\nAction: click(point='<point>644 364</point>')")
    plan = tars.parse(text, request())
    assert steps(plan) == [{"action": "click", "x": 500, "y": 500,
                            "target": "I'll click the File name field in the middle of the dialog."}]
    assert plan.thought.startswith("The Save As dialog is open.")
    assert "Thought:" not in plan.thought


@pytest.mark.parametrize(("action", "expected"), [
    ("click(start_box='<|box_start|>(644,364)<|box_end|>')", (500, 500)),
    # fractions of 0..1000 are kept: at 2560 pixels one unit is 2.6 pixels
    ("click(start_box='(100,50)')", (77.64, 68.681)),
    ("click(start_box='[100, 40, 140, 60]')", (93.168, 68.681)),
    ("left_single(point='<point>0 728</point>')", (0, 1000)),
    ("click(start_box='<bbox>100 40 140 60</bbox>')", (93.168, 68.681)),
    ("click(point='<point>1300 700</point>')", (1000, 961.538)),  # just past the edge: clamped
])
def test_tars_point_forms(tars: Any, action: str, expected: tuple[int, int]) -> None:
    (step,) = steps(tars.parse(f"Thought: Click it.\nAction: {action}", request()))
    assert (step["x"], step["y"]) == expected


def test_tars_other_pointer_actions(tars: Any) -> None:
    def one(action: str) -> dict[str, Any]:
        (step,) = steps(tars.parse(f"Thought: Go.\nAction: {action}", request()))
        return step

    assert one("left_double(point='<point>644 364</point>')")["action"] == "double_click"
    assert one("right_single(point='<point>644 364</point>')")["action"] == "right_click"
    assert one("drag(start_point='<point>0 0</point>', end_point='<point>1288 728</point>')") == {
        "action": "drag", "x": 0, "y": 0, "x2": 1000, "y2": 1000}
    assert one("drag(start_box='(644,364)', end_box='(322,182)')") == {
        "action": "drag", "x": 500, "y": 500, "x2": 250, "y2": 250}
    assert one("scroll(point='<point>644 364</point>', direction='down')") == {
        "action": "scroll", "x": 500, "y": 500, "dy": -5}
    assert one("scroll(direction='up')") == {"action": "scroll", "dy": 5}  # at the pointer


@pytest.mark.parametrize(("key", "expected"), [
    ("ctrl c", ["ctrl", "c"]),
    ("ctrl shift t", ["ctrl", "shift", "t"]),
    ("arrowleft", ["left"]),
    ("Ctrl+S", ["ctrl", "s"]),
    ("enter", ["enter"]),
])
def test_tars_hotkey(tars: Any, key: str, expected: list[str]) -> None:
    plan = tars.parse(f"Thought: Use the keyboard.\nAction: hotkey(key='{key}')", request())
    assert steps(plan) == [{"action": "hotkey", "keys": expected}]


@pytest.mark.parametrize(("content", "expected"), [
    (r"report.txt\n", "report.txt\n"),
    (r"it\'s \"quoted\"", "it's \"quoted\""),
    ("It's here", "It's here"),  # a quote the model forgot to escape
    ("two\nlines", "two\nlines"),
    (r"C:\\temp", "C:\\temp"),
])
def test_tars_type_content_is_unescaped(tars: Any, content: str, expected: str) -> None:
    text = f"Thought: Type the name and submit it.\nAction: type(content='{content}')"
    assert steps(tars.parse(text, request())) == [{"action": "type", "text": expected}]


def test_tars_terminal_and_wait_actions(tars: Any) -> None:
    def one(action: str) -> dict[str, Any]:
        (step,) = steps(tars.parse(f"Thought: Status.\nAction: {action}", request()))
        return step

    assert one("wait()") == {"action": "wait", "seconds": 5.0}
    assert one(r"finished(content='The total is \'42\'.')") == {
        "action": "done", "answer": "The total is '42'."}
    assert one("finished()") == {"action": "done"}
    assert one("call_user()") == {"action": "fail", "reason": "the model asks for the user's help"}


def test_tars_reads_every_action_of_a_multi_action_answer(tars: Any) -> None:
    """The official parser splits the Action part at a blank line after a call."""
    text = ("Thought: Click then type.\nAction: click(point='<point>644 364</point>')\n\n"
            "type(content='hello')")
    assert [s["action"] for s in steps(tars.parse(text, request()))] == ["click", "type"]
    assert len(tars.parse(text, request(horizon=1)).trajectory) == 1  # cut to the horizon


def test_tars_answer_in_a_code_fence_without_thought(tars: Any) -> None:
    text = "```\nAction: click(point='<point>644 364</point>')\n```"
    assert steps(tars.parse(text, request()))[0]["x"] == 500


@pytest.mark.parametrize(("text", "reason"), [
    ("", "no 'Action:' line"),
    ("I will click the Save button now.", "no 'Action:' line"),
    ("Thought: hmm\nAction: the save button", "is not a call"),
    ("Thought: x\nAction: fly(point='<point>1 2</point>')", "unknown action 'fly'"),
    ("Thought: x\nAction: click(point=<point>1 2</point>)", "write them as key='value'"),
    ("Thought: x\nAction: type(content='unfinished", "no closing quote"),
    ("Thought: x\nAction: click()", "needs point"),
    ("Thought: x\nAction: click(point='<point>x1 y1</point>')", "is not a point"),
    ("Thought: x\nAction: click(point='<point>1 2 3</point>')", "is not a point"),
    ("Thought: x\nAction: click(point='<point>2000 100</point>')", "outside the 1288x728 screenshot"),
    ("Thought: x\nAction: click(point='<point>-90 100</point>')", "outside the 1288x728 screenshot"),
    ("Thought: x\nAction: scroll(point='<point>1 2</point>', direction='left')", "sideways"),
    ("Thought: x\nAction: hotkey(key='hyper x')", "unknown key 'hyper'"),
    ("Thought: x\nAction: hotkey(key='')", "needs key"),
    ("Thought: x\nAction: type(content='')", "nothing to type"),
])
def test_tars_rejects_with_a_precise_reason(tars: Any, text: str, reason: str) -> None:
    with pytest.raises(PlanError) as caught:
        tars.parse(text, request())
    assert reason in caught.value.message


def test_tars_grounding(tars: Any) -> None:
    messages = tars.ground_messages(IMAGE, "the Save button")
    text, urls = user_parts(messages)
    assert "## User Instruction\nthe Save button" in text and urls == [data_url(IMAGE)]
    assert "click(point='<point>x1 y1</point>')" in text
    size = IMAGE.size
    assert tars.parse_point("Action: click(point='<point>644 364</point>')", size) == (500, 500)
    assert tars.parse_point("click(start_box='<|box_start|>(322,182)<|box_end|>')", size) == (250, 250)
    assert tars.parse_point("The button is at (644,364).", size) == (500, 500)
    # an image smaller than the processor's minimum is enlarged by it: the answer is in that space
    assert tars.parse_point("Action: click(point='<point>112 210</point>')", (100, 200)) == (500, 500)
    for bad, reason in [("I cannot find it.", "holds no point"),
                        ("Action: click(point='<point>4000 10</point>')", "outside")]:
        with pytest.raises(PlanError, match=reason):
            tars.parse_point(bad, size)


# --- both: nothing but PlanError comes out -----------------------------------------------------

SAMPLES = {
    "qwen3-vl": [FORECAST,
                 call({"action": "mouse_move", "coordinate": [1, 2]}) + call(
                     {"action": "left_click_drag", "coordinate": [3, 4]}),
                 call({"action": "scroll", "pixels": -3}) + call({"action": "answer", "text": "x"}),
                 '[{"point_2d": [120, 45]}]'],
    "ui-tars": ["Thought: Click it.\nAction: click(point='<point>644 364</point>')",
                "Thought: t\nAction: type(content='it\\'s\\n')",
                "Thought: t\nAction: drag(start_box='(1,2)', end_box='[1, 2, 3, 4]')",
                "Thought: t\nAction: scroll(point='<point>5 5</point>', direction='up')",
                "Action: hotkey(key='ctrl c')", "Action: finished(content='done')"],
}
JUNK = st.lists(st.sampled_from(list("<>(){}[]'\",:=\\ \n-.0123456789aex_") + [
    "<tool_call>", "</tool_call>", "<point>", "</point>", "Action:", "Thought:", "computer_use",
    "\"action\"", "NaN", "1e999", "<|box_start|>"]), max_size=12).map("".join)


@st.composite
def mutated(draw: st.DrawFn, profile: str) -> str:
    text = draw(st.sampled_from(SAMPLES[profile]))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 20)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        if kind == "insert":
            text = text[:i] + draw(JUNK) + text[i:]
        elif kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "replace":
            text = text[:i] + draw(JUNK) + text[j:]
        else:
            text = text[:i]
    return text


def _only_plan_errors(profile: Any, text: str, horizon: int, size: tuple[int, int]) -> None:
    image = IMAGE if size == IMAGE.size else Image.new("RGB", size)
    try:
        plan = profile.parse(text, PlanRequest("task", image, horizon, []))
    except PlanError as exc:
        assert exc.message
    else:
        assert 1 <= len(plan.trajectory) <= horizon
        for step in plan.trajectory:
            assert all(0 <= v <= COORD_MAX for point in step.points() for v in point)
    try:
        point = profile.parse_point(text, size)
    except PlanError as exc:
        assert exc.message
    else:
        assert all(0 <= v <= COORD_MAX for v in point)


FUZZ = hsettings(max_examples=examples(300), deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SIZES = st.sampled_from([(WIDTH, HEIGHT), (28, 28), (1000, 1000), (3, 2000)])


@pytest.mark.parametrize("name", ["qwen3-vl", "ui-tars"])
@FUZZ
@given(text=st.text(max_size=300), horizon=st.integers(1, 6), size=SIZES)
def test_random_text_only_raises_plan_error(name: str, text: str, horizon: int,
                                            size: tuple[int, int]) -> None:
    _only_plan_errors(PROFILES.get(name)(), text, horizon, size)


@pytest.mark.parametrize("name", ["qwen3-vl", "ui-tars"])
@FUZZ
@given(data=st.data(), horizon=st.integers(1, 6), size=SIZES)
def test_mutated_answers_only_raise_plan_error(name: str, data: st.DataObject, horizon: int,
                                               size: tuple[int, int]) -> None:
    _only_plan_errors(PROFILES.get(name)(), data.draw(mutated(name)), horizon, size)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                max_size=4),
                    max_leaves=8)
QWEN_KEYS = st.sampled_from(["action", "coordinate", "start_coordinate", "keys", "text", "pixels",
                             "time", "status"])


@FUZZ
@given(calls=st.lists(st.dictionaries(QWEN_KEYS, JSON | st.sampled_from(
    ["left_click", "key", "type", "scroll", "wait", "terminate", "answer", "mouse_move",
     "left_click_drag", "double_click", "right_click", "success", "failure"])), min_size=1, max_size=4),
       horizon=st.integers(1, 6))
def test_random_tool_call_arguments_only_raise_plan_error(calls: list[dict[str, Any]], horizon: int) -> None:
    text = "".join(call(arguments) for arguments in calls)
    _only_plan_errors(PROFILES.get("qwen3-vl")(), text, horizon, IMAGE.size)


# --- opencua ------------------------------------------------------------------------------------

@pytest.fixture
def opencua() -> Any:
    return PROFILES.get("opencua")()


def opencua_answer(action: str, code: str) -> str:
    return f"## Thought:\nI look at the screen.\n\n## Action:\n{action}\n\n## Code:\n```python\n{code}\n```\n"


def test_opencua_messages_follow_osworlds_agent(opencua: Any) -> None:
    """OSWorld's OpenCUA agent (use_old_sys_prompt, action history, 3 images): the L2 system
    prompt, earlier steps as '# Step i: / ## Action:' turns (the latest 2 after their
    screenshots, older ones joined first), then the screenshot and the task instruction."""
    shots = [Image.new("RGB", (WIDTH, HEIGHT), (i * 40, 0, 0)) for i in range(4)]
    history = [HistoryEntry(i + 1, f"click {i}", "ok", image=shots[i],
                            answer=opencua_answer(f"Click item {i}.", f"pyautogui.click(x={i}, y={i})"))
               for i in range(4)]
    messages = opencua.messages(PlanRequest("Sort the list", IMAGE, 1, history, history_images=2))
    assert [m["role"] for m in messages] == ["system", "assistant", "user", "assistant", "user",
                                             "assistant", "user"]
    system = messages[0]["content"]
    assert system.startswith("You are a GUI agent. You are given a task and a screenshot")
    assert "computer.terminate(status='failure')" in system and "password" not in system
    assert '"name": "computer.triple_click"' in system
    assert messages[1]["content"] == ("# Step 1:\n## Action:\nClick item 0.\n\n"
                                      "# Step 2:\n## Action:\nClick item 1.\n")
    assert messages[3]["content"] == "# Step 3:\n## Action:\nClick item 2.\n"
    images = [p["image_url"]["url"] for m in messages if isinstance(m["content"], list)
              for p in m["content"] if p["type"] == "image_url"]
    assert images == [data_url(shots[2]), data_url(shots[3]), data_url(IMAGE)]
    last = messages[-1]["content"]
    assert last[1]["text"].startswith("# Task Instruction:\nSort the list\n\nPlease generate the next move")
    assert opencua.max_tokens == 2048 and opencua.history_images == 2 and opencua.schema(3) is None


def test_opencua_is_told_what_went_wrong(opencua: Any) -> None:
    history = [HistoryEntry(1, "click (5,5) 'Save'", "ok (no visible effect)",
                            answer=opencua_answer("Click Save.", "pyautogui.click(x=5, y=5)"))]
    messages = opencua.messages(PlanRequest("Save", IMAGE, 1, history))
    assert messages[1] == {"role": "assistant", "content": "# Step 1:\n## Action:\nClick Save.\n"}
    assert "Step 1 (click (5,5) 'Save') -> ok (no visible effect)" in messages[-1]["content"][1]["text"]


def test_opencua_reads_pixels_of_the_image_and_the_action_as_target(opencua: Any) -> None:
    plan = opencua.parse(opencua_answer("Click the Save button.", "pyautogui.click(x=644, y=364)"),
                         request())
    assert steps(plan) == [{"action": "click", "x": 500.0, "y": 500.0, "target": "Click the Save button."}]
    assert plan.thought == "I look at the screen."


@pytest.mark.parametrize(("code", "expected"), [
    ("pyautogui.click(644, 364, clicks=2)", {"action": "double_click", "x": 500.0, "y": 500.0}),
    ("pyautogui.click(x=644, y=364, button='right')", {"action": "right_click", "x": 500.0, "y": 500.0}),
    ("pyautogui.click((644, 364))", {"action": "click", "x": 500.0, "y": 500.0}),
    ("pyautogui.click(x=0.5, y=0.25)", {"action": "click", "x": 500.0, "y": 250.0}),
    ("pyautogui.scroll(5, x=644, y=364)", {"action": "scroll", "x": 500.0, "y": 500.0, "dy": 5}),
    ("pyautogui.scroll(-3)", {"action": "scroll", "dy": -3}),
    ("pyautogui.hotkey('ctrl', 'shift', 't')", {"action": "hotkey", "keys": ["ctrl", "shift", "t"]}),
    ("pyautogui.typewrite('hi')", {"action": "type", "text": "hi"}),
    ("time.sleep(2)", {"action": "wait", "seconds": 2.0}),
])
def test_opencua_pyautogui_forms(opencua: Any, code: str, expected: dict[str, Any]) -> None:
    got = steps(opencua.parse(opencua_answer("", code), request()))[0]
    assert {k: v for k, v in got.items() if k != "target"} == expected


def test_opencua_press_repeats_each_key_and_the_horizon_cuts_the_block(opencua: Any) -> None:
    code = "pyautogui.press('backspace', presses=3)\npyautogui.press(['tab', 'enter'])"
    assert [s["keys"] for s in steps(opencua.parse(opencua_answer("", code), request(horizon=10)))] == \
        [["backspace"]] * 3 + [["tab"], ["enter"]]
    assert len(opencua.parse(opencua_answer("", code), request(horizon=2)).trajectory) == 2


@pytest.mark.parametrize(("code", "reason"), [
    ("pyautogui.tripleClick(x=1, y=2)", "triple_click"),
    ("pyautogui.middleClick(x=1, y=2)", "middle click"),
    ("pyautogui.hscroll(3)", "sideways"),
    ("pyautogui.keyDown('shift')", "held keys"),
    ("pyautogui.dragTo(x=1, y=2)", "move there first"),
    ("pyautogui.click()", "without x and y"),
    ("pyautogui.click(x=5000, y=10)", "outside the 1288x728 screenshot"),
    ("pyautogui.write(message=text)", "literal values"),
    ("print('hi')", "only pyautogui and computer calls"),
    ("computer.terminate(status='maybe')", "status='success' or 'failure'"),
])
def test_opencua_refuses_with_a_precise_reason(opencua: Any, code: str, reason: str) -> None:
    with pytest.raises(PlanError, match=reason):
        opencua.parse(opencua_answer("", code), request())


def test_opencua_grounding(opencua: Any) -> None:
    messages = opencua.ground_messages(IMAGE, "the Save button")
    assert messages[0] == {"role": "system", "content": "You are a GUI agent. You are given a task "
                           "and a screenshot of the screen. You need to perform a series of "
                           "pyautogui actions to complete the task."}
    assert messages[1]["content"][1] == {"type": "text", "text": "the Save button"}
    assert opencua.parse_point("```python\npyautogui.click(x=644, y=364)\n```", IMAGE.size) == (500, 500)
    assert opencua.parse_point("click(x=322, y=182)", IMAGE.size) == (250, 250)
    with pytest.raises(PlanError):
        opencua.parse_point("The button is at the top.", IMAGE.size)


# --- holo ---------------------------------------------------------------------------------------

@pytest.fixture
def holo() -> Any:
    return PROFILES.get("holo")()


def test_holo_messages_follow_the_cookbook_navigation_prompt(holo: Any) -> None:
    earlier = json.dumps({"note": "Hotel du Nord: 120 EUR", "thought": "t",
                          "action": {"action": "click_element", "element": "Search", "x": 10, "y": 20}})
    history = [HistoryEntry(1, "click (8,27) 'Search'", "ok (no visible effect)", answer=earlier)]
    messages = holo.messages(PlanRequest("Find a hotel", IMAGE, 1, history))
    assert [m["role"] for m in messages] == ["system", "user"]
    system = messages[0]["content"]
    assert system.startswith("Imagine you are a robot using a computer, just like humans.")
    assert '"click_element"' not in system and "'click_element'" in system  # the schema as a dict
    assert "'title': 'NavigationStep'" in system and "restart" not in system
    texts = [p["text"] for p in messages[1]["content"] if p["type"] == "text"]
    assert texts[0] == "<task>\nFind a hotel\n</task>\n"
    assert ("1. I have clicked on the element 'Search' at absolute coordinates 10, 20 "
            "(ok (no visible effect))") in texts[1]
    assert "<notes>\nHotel du Nord: 120 EUR\n</notes>" in texts[1]
    assert texts[2:6] == ["<observation step=2>\n", "<screenshot>\n", "\n</screenshot>\n",
                          "\n</observation>\n"]
    assert holo.schema(1)["title"] == "NavigationStep"


def test_holo_one_action_is_never_split_by_the_horizon(holo: Any) -> None:
    answer = json.dumps({"note": "", "thought": "t", "action": {
        "action": "write_element_abs", "content": "Paris", "element": "City", "x": 644, "y": 364}})
    plan = holo.parse(answer, request(horizon=1))
    assert [s["action"] for s in steps(plan)] == ["click", "hotkey", "type"]
    assert steps(plan)[2]["text"] == "Paris\n"


def test_holo_grounding_is_the_click_absolute_prompt(holo: Any) -> None:
    messages = holo.ground_messages(IMAGE, "the Save button")
    text = messages[0]["content"][1]["text"]
    assert text.startswith("Localize an element on the GUI image according to the provided target")
    assert "'const': 'click_absolute'" in text and text.endswith("Your target is:\nthe Save button")
    assert holo.parse_point('{"action": "click_absolute", "x": 644, "y": 364}', IMAGE.size) == (500, 500)
    assert holo.parse_point("Click(322, 182)", IMAGE.size) == (250, 250)
    with pytest.raises(PlanError, match="outside"):
        holo.parse_point('{"action": "click_absolute", "x": 4000, "y": 364}', IMAGE.size)
