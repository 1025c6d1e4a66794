"""The GUI-Owl-1.5 and UI-Venus-1.5 profiles: their prompts and history as the official agents
build them, their readers, the coordinate reading each settles on, and the follow-up that
joins a hover or a move with the answer after it (through the real planner)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from PIL import Image

from tests.fakes import FakeBackend
from tracer_cli.agent.planner import FOLLOW_UPS, Planner
from tracer_cli.agent.profiles import PROFILES, FollowUp, HistoryEntry, PlanRequest
from tracer_cli.desktop.screen import Geometry, Rect, data_url
from tracer_cli.errors import PlanError
from tracer_cli.plan import Plan, step_dict

IMAGE = Image.new("RGB", (1408, 800), (40, 80, 120))  # Qwen3-VL's size for 1920x1080


def request(horizon: int = 1, history: list[HistoryEntry] | None = None,
            history_images: int = 0) -> PlanRequest:
    return PlanRequest("Save the report", IMAGE, horizon, history or [],
                       history_images=history_images)


def steps(plan: Plan) -> list[dict[str, Any]]:
    return [{k: v for k, v in step_dict(s).items() if k != "notes"} for s in plan.trajectory]


def call(arguments: dict[str, Any]) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


def venus(action: str, conclusion: str = "Done this.") -> str:
    return f"<think>Thinking.</think>\n<action>{action}</action>\n<conclusion>{conclusion}</conclusion>"


@pytest.fixture
def owl() -> Any:
    return PROFILES.get("gui-owl")()


@pytest.fixture
def ven() -> Any:
    return PROFILES.get("ui-venus")()


def test_both_are_registered_as_relative_qwen3_vl_families() -> None:
    for name in ("gui-owl", "ui-venus"):
        profile = PROFILES.get(name)()
        assert profile.name == name
        assert profile.geometry.coordinates == "relative" and profile.geometry.factor == 32


# --- the coordinate reading ------------------------------------------------------------------

@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1366, 768)])
def test_a_point_near_the_edge_is_read_on_1000_not_999_nor_a_re_rounded_size(
        owl: Any, ven: Any, width: int, height: int) -> None:
    """GUI-Owl's navigation agents divide by 999 and its desktop runner scales onto the factor-16
    size (1920x1088); UI-Venus's runner takes the numbers as pixels of a factor-28 image. The
    grounding evaluations divide by 1000 on the image itself: that reading is the one kept, and
    near the right and bottom edges it names other pixels than the rejected ones."""
    geometry = Geometry(Rect(0, 0, width, height))
    for plan in (owl.parse(call({"action": "left_click", "coordinate": [998, 990]}), request()),
                 ven.parse(venus("Click(box=(998,990))"), request())):
        x, y = plan.first.x, plan.first.y  # type: ignore[attr-defined]
        assert (x, y) == (998, 990)
        pixel = geometry.to_desktop(x, y)
        assert pixel == (round(998 * width / 1000), round(990 * height / 1000))
        assert pixel != (min(round(998 * width / 999), width - 1), min(round(990 * height / 999), height - 1))
    assert geometry.to_desktop(998, 990)[1] != round(990 * 1088 / 1000)  # the desktop runner's


def test_points_outside_the_grid_are_refused_not_clamped(owl: Any, ven: Any) -> None:
    with pytest.raises(PlanError, match="outside"):
        owl.parse(call({"action": "left_click", "coordinate": [1432, 600]}), request())
    with pytest.raises(PlanError, match="outside"):
        ven.parse(venus("Click(box=(1932,600))"), request())


# --- GUI-Owl ---------------------------------------------------------------------------------

def test_owl_system_prompt_is_the_desktop_runners_without_what_tracer_cannot_do(owl: Any) -> None:
    system = owl.messages(request())[0]["content"]
    tool = json.loads(system.split("<tools>\n")[1].split("\n</tools>")[0])["function"]
    assert tool["name"] == "computer_use"
    assert "* The screen's resolution is 1000x1000." in tool["description"]
    actions = tool["parameters"]["properties"]["action"]["enum"]
    assert {"left_click", "mouse_move", "left_click_drag", "interact", "answer"} <= set(actions)
    assert not {"middle_click", "triple_click", "hscroll"} & set(actions)
    assert "1) Action: a short imperative describing what to do in the UI." in system
    assert "- Output exactly in the order: Action, <tool_call>." in system


def test_owl_first_request_is_the_instruction_with_the_screenshot(owl: Any) -> None:
    messages = owl.messages(request())
    assert [m["role"] for m in messages] == ["system", "user"]
    text, image = messages[1]["content"]
    assert text["text"] == ("Please generate the next move according to the UI screenshot, "
                            "instruction and previous actions.\n\nInstruction: Save the report\n\n"
                            "Previous actions:\nNone")
    assert image["image_url"]["url"] == data_url(IMAGE)


def test_owl_history_is_the_latest_screenshots_with_their_replies(owl: Any) -> None:
    shots = [Image.new("RGB", (64, 40), (i * 40, 0, 0)) for i in range(6)]
    history = [HistoryEntry(i + 1, f"click step {i + 1}", "ok", summary=f"Open menu {i + 1}",
                            answer=f"Action: Open menu {i + 1}\n<tool_call>...</tool_call>",
                            image=shots[i] if i >= 2 else None)
               for i in range(6)]
    messages = owl.messages(request(history=history, history_images=4))
    roles = [m["role"] for m in messages]
    # window_start(6, 4) = 2: steps 3..6 as screenshot + reply, 1 and 2 as text lines
    assert roles == ["system"] + ["user", "assistant"] * 4 + ["user"]
    first = messages[1]["content"]
    assert "Previous actions:\nStep 1: Open menu 1\nStep 2: Open menu 2" in first[0]["text"]
    assert first[1]["image_url"]["url"] == data_url(shots[2])
    assert messages[2]["content"].startswith("Action: Open menu 3")
    assert messages[-1]["content"] == [{"type": "image_url", "image_url": {"url": data_url(IMAGE)}}]


def test_owl_tells_what_went_wrong_after_the_screenshot(owl: Any) -> None:
    history = [HistoryEntry(1, "click (1,1) 'Save'", "no visible change")]
    last = owl.messages(request(history=history))[-1]["content"]
    assert last[-1]["text"].startswith("Note from the executor:") and "no visible change" in last[-1]["text"]


def test_owl_reads_its_aliases_interact_and_a_box_coordinate(owl: Any) -> None:
    read = [steps(owl.parse(call(args), request()))[0] for args in (
        {"action": "click", "coordinate": [10, 20]},
        {"action": "hotkey", "keys": ["ctrl", "s"]},
        {"action": "computer_double_click", "coordinate": [30, 40]},
        {"action": "left_click", "coordinate": [100, 200, 300, 400]},
        {"action": "stop", "status": "success"})]
    assert read == [{"action": "click", "x": 10, "y": 20, "target": ""},
                    {"action": "hotkey", "keys": ["ctrl", "s"]},
                    {"action": "double_click", "x": 30, "y": 40, "target": ""},
                    {"action": "click", "x": 200, "y": 300, "target": ""},
                    {"action": "done"}]
    asking = call({"action": "interact", "text": "Log in, please"})
    failed = owl.parse("Action: Ask for the password.\n" + asking, request()).first
    assert failed.action == "fail" and "Log in, please" in failed.reason  # type: ignore[attr-defined]
    with pytest.raises(PlanError, match="unknown action 'middle_click'"):
        owl.parse(call({"action": "middle_click", "coordinate": [1, 1]}), request())


def test_owl_reads_every_call_of_an_answer_as_a_forecast(owl: Any) -> None:
    answer = ("Action: Open the file menu.\n" + call({"action": "left_click", "coordinate": [20, 10]})
              + "\nAction: Choose Save.\n" + call({"action": "left_click", "coordinate": [30, 80]}))
    assert len(owl.parse(answer, request(horizon=1)).trajectory) == 1
    plan = owl.parse(answer, request(horizon=3))
    assert [s["target"] for s in steps(plan)] == ["Open the file menu.", "Choose Save."]


def test_owl_a_move_then_a_drag_in_one_answer_is_one_drag(owl: Any) -> None:
    answer = call({"action": "mouse_move", "coordinate": [100, 200]}) + call(
        {"action": "left_click_drag", "coordinate": [300, 400]})
    assert steps(owl.parse(answer, request())) == [
        {"action": "drag", "x": 100, "y": 200, "x2": 300, "y2": 400}]


def test_owl_a_drag_from_nowhere_asks_for_the_move(owl: Any) -> None:
    with pytest.raises(PlanError, match="first a mouse_move") as caught:
        owl.parse(call({"action": "left_click_drag", "coordinate": [300, 400]}), request())
    assert not isinstance(caught.value, FollowUp)


def test_owl_a_move_alone_is_the_first_half_of_a_step(owl: Any) -> None:
    with pytest.raises(FollowUp) as caught:
        owl.parse("Action: Point at the slider.\n" + call({"action": "mouse_move", "coordinate": [100, 200]}),
                  request())
    follow = caught.value
    assert follow.turn["role"] == "user" and "[100, 200]" in follow.turn["content"]
    plan = follow.read("Action: Drag it.\n" + call({"action": "left_click_drag", "coordinate": [300, 400]}))
    assert steps(plan) == [{"action": "drag", "x": 100, "y": 200, "x2": 300, "y2": 400}]
    plan = follow.read(call({"action": "scroll", "pixels": -3}))
    assert steps(plan) == [{"action": "scroll", "x": 100, "y": 200, "dy": -3}]


def test_owl_grounding_uses_the_evaluations_two_action_prompt(owl: Any) -> None:
    system, user = owl.ground_messages(IMAGE, "the Save button")
    assert "you can only use the left_click and mouse_move action" in system["content"]
    # OSWorld-G's setting: the refusal option on a line of its own after the tool text
    assert system["content"].endswith('</tool_call>\n\nAdditionally, if you think the task is '
                                      'infeasible (e.g., the task is not related to the image), '
                                      'return <tool_call>\n{"name": "computer_use", "arguments": '
                                      '{"action": "terminate", "status": "failure"}}\n</tool_call>')
    assert user["content"][-1] == {"type": "text", "text": "the Save button"}
    assert owl.parse_point(call({"action": "left_click", "coordinate": [250, 750]}), IMAGE.size) == (250, 750)


# --- UI-Venus ---------------------------------------------------------------------------------

def test_venus_prompt_is_the_web_prompt_with_the_task_and_no_phone_actions(ven: Any) -> None:
    messages = ven.messages(request())
    assert messages[0] == {"role": "system", "content": "You are a helpful assistant."}
    text, image = messages[1]["content"]
    prompt = text["text"]
    assert "### User Task\nSave the report\n" in prompt
    assert "### Previous Actions\n\n" in prompt  # the runner's empty history
    assert "<action> the next action </action>" in prompt and "Hover(box=(x1,y1))" in prompt
    for phone in ("LongPress", "PressBack", "PressHome", "PressRecent", "Launch("):
        assert phone not in prompt
    assert "automatically presses" not in prompt and "PressEnter()" in prompt
    assert image["image_url"]["url"] == data_url(IMAGE)


def test_venus_history_is_the_runners_text_of_the_last_five_steps(ven: Any) -> None:
    history = [HistoryEntry(i + 1, f"click {i + 1}", "ok", answer=f"<action>Click(box=({i},{i}))"
                            f"</action>\n<conclusion>Opened {i + 1}.</conclusion>") for i in range(6)]
    history.append(HistoryEntry(7, "the user took over", "the user handed back control"))
    prompt = ven.messages(request(history=history))[1]["content"][0]["text"]
    assert "Opened 1." not in prompt and "Opened 2." not in prompt
    assert "Step 0: <think>Opened 3.</think><action>Click(box=(2,2))</action>" in prompt
    assert "Step 3: <think>Opened 6.</think><action>Click(box=(5,5))</action>" in prompt
    assert "Step 4: the user took over -> the user handed back control" in prompt


def test_venus_reads_its_actions(ven: Any) -> None:
    cases = {
        "Click(box=(100,200))": {"action": "click", "x": 100, "y": 200, "target": "Done this."},
        "DoubleClick(box=(5, 6))": {"action": "double_click", "x": 5, "y": 6, "target": "Done this."},
        "Drag(start=(1,2), end=(3,4))": {"action": "drag", "x": 1, "y": 2, "x2": 3, "y2": 4},
        "Type(content='it\\'s \"here\"')": {"action": "type", "text": "it's \"here\""},
        "Hotkey(keys=['ctrl', 'c'])": {"action": "hotkey", "keys": ["ctrl", "c"]},
        "PressEnter()": {"action": "hotkey", "keys": ["enter"]},
        "Wait()": {"action": "wait", "seconds": 1.0},
        "Scroll(direction='down')": {"action": "scroll", "dy": -5},
        "Scroll(start=(500,800), end=(500,200))": {"action": "scroll", "x": 500, "y": 800, "dy": -5},
        "Scroll(start=(500,200), end=(500,800), direction='down')": {"action": "scroll", "x": 500,
                                                                      "y": 200, "dy": -5},
        "Finished(content='All saved.')": {"action": "done", "answer": "All saved."},
        "CallUser(content='The price is 12 EUR.')": {"action": "done", "answer": "The price is 12 EUR."},
    }
    for action, want in cases.items():
        assert steps(ven.parse(venus(action), request())) == [want], action


@pytest.mark.parametrize(("answer", "reason"), [
    (venus("LongPress(box=(1,2))"), "phone's action"),
    (venus("Scroll(direction='left')"), "sideways"),
    (venus("Fly(to=(1,2))"), "unknown action 'Fly'"),
    (venus("Click(box=(500,300)"), "not closed"),
    ("<think>t</think>\n<conclusion>nothing</conclusion>", "no <action>"),
    (venus("Type(content='')"), "needs the text"),
    (venus("Click(box=(-1,-1))"), "outside"),
])
def test_venus_refuses_what_it_cannot_run(ven: Any, answer: str, reason: str) -> None:
    with pytest.raises(PlanError, match=reason):
        ven.parse(answer, request())


def test_venus_reads_several_actions_of_one_answer_as_a_forecast(ven: Any) -> None:
    answer = venus("Click(box=(311,382)),Type(content='10, 7'),Click(box=(514,932))")
    assert len(ven.parse(answer, request(horizon=1)).trajectory) == 1
    assert steps(ven.parse(answer, request(horizon=5)))[1:] == [
        {"action": "type", "text": "10, 7"},
        {"action": "click", "x": 514, "y": 932, "target": "Click(514,932)"}]


def test_venus_a_hover_alone_is_the_first_half_of_a_step(ven: Any) -> None:
    with pytest.raises(FollowUp) as caught:
        ven.parse(venus("Hover(box=(400,500))"), request())
    assert "Hover(box=(400,500))" in caught.value.turn["content"]
    assert steps(caught.value.read(venus("Scroll(direction='up')"))) == [
        {"action": "scroll", "x": 400, "y": 500, "dy": 5}]
    click = caught.value.read(venus("Click(box=(410,510))"))  # the hover only placed the pointer
    assert steps(click)[0]["x"] == 410


def test_venus_grounding_reads_the_grounding_codes_forms(ven: Any) -> None:
    (user,) = ven.ground_messages(IMAGE, "the Save button.")
    assert user["content"][1]["text"].startswith(
        "Output the center point of the position corresponding to the following instruction: "
        "\nthe Save button. \n\n")
    for text, point in [("[120,340]", (120, 340)), ("[100, 200, 300, 400]", (200, 300)),
                        ("[100,200], [300,400]", (200, 300)),
                        ("<action>Click(box=(7,8))</action>", (7, 8))]:
        assert ven.parse_point(text, (10, 10)) == point
    with pytest.raises(PlanError, match="not on the screen"):
        ven.parse_point("[-1,-1]", (10, 10))


# --- the follow-up through the planner ---------------------------------------------------------

def test_the_planner_joins_a_hover_with_the_answer_after_it(ven: Any) -> None:
    backend = FakeBackend(venus("Hover(box=(400,500))"), venus("Scroll(direction='down')"))
    forecast = Planner(backend, ven, retries=0).forecast(request())
    assert steps(forecast.plan) == [{"action": "scroll", "x": 400, "y": 500, "dy": -5}]
    first, second = forecast.attempts
    assert first.follow_up == "the answer only hovers at (400,500)" and first.error == ""
    assert second.follow_up == second.error == ""
    sent_first, sent_second = backend.requests
    assert sent_second[:len(sent_first)] == sent_first
    assert sent_second[len(sent_first)]["role"] == "assistant"
    assert "Hover(box=(400,500)) is noted" in sent_second[-1]["content"]


def test_the_planner_joins_a_move_with_the_drag_after_it(owl: Any) -> None:
    backend = FakeBackend(call({"action": "mouse_move", "coordinate": [100, 200]}),
                          call({"action": "left_click_drag", "coordinate": [300, 400]}))
    forecast = Planner(backend, owl, retries=0).forecast(request())
    assert steps(forecast.plan) == [{"action": "drag", "x": 100, "y": 200, "x2": 300, "y2": 400}]


def test_follow_ups_are_bounded_and_then_refused_as_a_retry(ven: Any) -> None:
    hovers = [venus(f"Hover(box=({i},{i}))") for i in range(FOLLOW_UPS + 1)]
    backend = FakeBackend(*hovers, venus("Click(box=(9,9))"))
    forecast = Planner(backend, ven, retries=1).forecast(request())
    assert steps(forecast.plan)[0]["x"] == 9
    errors = [a.error for a in forecast.attempts]
    assert errors[:FOLLOW_UPS] == [""] * FOLLOW_UPS
    assert f"at most {FOLLOW_UPS} answers of a step may only move the pointer" in errors[FOLLOW_UPS]
    assert "Your answer was rejected" in backend.requests[-1][-1]["content"]


def test_venus_zoom_asks_for_the_point_on_the_crop_in_the_grounding_format(ven: Any) -> None:
    crop = Image.new("RGB", (320, 200), "white")
    (turn,) = ven.zoom_messages(crop, "the Save button")
    image, text = turn["content"]
    assert image["image_url"]["url"] == data_url(crop)
    assert "at full resolution" in text["text"] and "the Save button" in text["text"]
    assert "[x,y]" in text["text"]
    assert ven.parse_point("[500,250]", crop.size) == (500, 250)  # 0..1000 of the crop
