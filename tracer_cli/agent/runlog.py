"""Run records: one directory per run, written as the run goes so that a crash loses nothing.

    runs/<id>/run.json      what was asked, with which settings, and how it ended
    runs/<id>/steps.jsonl   one line per step: plan, attempts, action, points, outcome, timings
    runs/<id>/step-NNN.png  the screenshot the model saw at that step

run.json's ``pauses`` lists the user's pauses: the step, what of it was done, when, for how
long, and the note handed to the model.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli import private
from tracer_cli.agent.reasoning import split
from tracer_cli.agent.runloop import Listener, RunResult, StepRecord
from tracer_cli.desktop.screen import Geometry
from tracer_cli.errors import ConfigError, StorageError
from tracer_cli.plan import step_dict
from tracer_cli.redact import redact_data

SYNC_EVERY = 0.5  # seconds: steps.jsonl is flushed at every line, forced to disk this often

if TYPE_CHECKING:
    from tracer_cli.agent.planner import Attempt


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _slug(task: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:32].strip("-") or "run"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    private.write_text(path, json.dumps(redact_data(data), indent=2, ensure_ascii=False))


# Bytes set aside when a run starts and given back when it ends, so that how a run ended can be
# written even when the disk filled up meanwhile.
RESERVE = 256 * 1024


class RunLog(Listener):
    """Writes one run's record as it goes. A file that cannot be written (a full or vanished
    disk) stops the run with a StorageError before its next input event; run.json then says
    why the run ended (written in the room the reserve gave back), and what was written before
    stays readable: whole files, whole lines."""

    def __init__(self, root: Path, kind: str, task: str) -> None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{kind}-{_slug(task)}"
        try:
            private.make_dir(root)
            for n in range(1000):
                path = root / (base if n == 0 else f"{base}-{n}")
                try:
                    private.make_dir(path, exist_ok=False)
                    break
                except FileExistsError:
                    continue
        except OSError as exc:
            raise ConfigError(f"cannot create the run directory under {root}: {exc}",
                              "set TRACER_HOME to a writable directory") from None
        self.dir = path
        self.meta: dict[str, Any] = {"id": path.name, "kind": kind, "task": task,
                                     "started": _now(), "status": "running", "pid": os.getpid()}
        self._reserve = path / ".reserve"
        self.broken = ""  # why the record could not be written, once it could not
        self._synced = 0.0  # when steps.jsonl was last forced to disk
        try:
            private.write_bytes(self._reserve, bytes(RESERVE))
            _write_json(self.dir / "run.json", self.meta)
            with private.writing(self.dir / "steps.jsonl"):
                self._steps = os.open(self.dir / "steps.jsonl",
                                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, private.FILE_MODE)
        except StorageError:
            shutil.rmtree(path, ignore_errors=True)  # nothing of this run was recorded
            raise

    def _write_meta(self) -> None:
        try:
            _write_json(self.dir / "run.json", self.meta)
        except StorageError as exc:
            self._failed(exc)
            raise

    def _failed(self, exc: StorageError) -> None:
        """A write failed: give the reserve back and record why the run is ending."""
        if self.broken:
            return
        self.broken = str(exc)
        with contextlib.suppress(OSError):
            self._reserve.unlink()
        self.meta.update(status="error", reason=self.broken, ended=_now())
        with contextlib.suppress(StorageError):
            _write_json(self.dir / "run.json", self.meta)

    def on_start(self, task: str, settings: Any, geometry: Geometry) -> None:
        self.meta.update(start_fields(settings, geometry))
        self._write_meta()

    def write_step(self, line: dict[str, Any]) -> None:
        data = (json.dumps(redact_data(line), ensure_ascii=False) + "\n").encode("utf-8")
        # Written whole at every line (a crash of tracer loses nothing); forced to disk at most
        # every SYNC_EVERY seconds (a crash of the machine, half a second): 50,000 fsyncs took
        # a dry run 11 s.
        sync = time.monotonic() - self._synced >= SYNC_EVERY
        try:
            private.append_line(self._steps, self.dir / "steps.jsonl", data, sync)
        except StorageError as exc:
            self._failed(exc)
            raise
        if sync:
            self._synced = time.monotonic()

    def save_image(self, image: Any, name: str, **params: Any) -> None:
        """An image into the run's directory, readable by its owner only (with any secret it
        shows painted over)."""
        from tracer_cli.vision.secrets import hide_secrets

        try:
            private.save_image(hide_secrets(image), self.dir / name,
                               **({"compress_level": 1} | params))
        except StorageError as exc:
            self._failed(exc)
            raise

    def on_step(self, record: StepRecord) -> None:
        line = step_line(record)
        if record.image is not None:
            self.save_image(record.image, line["screenshot"])
        self.write_step(line)

    def on_pause(self, number: int, interrupted: str) -> None:
        self.meta.setdefault("pauses", []).append(pause_fields(number, interrupted))
        self._write_meta()

    def on_resume(self, number: int, seconds: float, note: str) -> None:
        self.meta["pauses"][-1].update(resume_fields(seconds, note))
        self._write_meta()

    def on_end(self, result: RunResult) -> None:
        self.finish(result.status, result.reason, **end_fields(result))

    def finish(self, status: str, reason: str = "", **extra: Any) -> None:
        """How the run ended, written last; the reserve goes back to the disk first."""
        with contextlib.suppress(OSError):
            self._reserve.unlink()
        with contextlib.suppress(OSError):
            os.fsync(self._steps)
        with contextlib.suppress(OSError):
            os.close(self._steps)
        if self.broken and status != "error":  # the run was stopped by the failed write
            status, reason = "error", self.broken
        self.meta.update(status=status, reason=reason, ended=_now(), **extra)
        try:
            _write_json(self.dir / "run.json", self.meta)
        except StorageError:
            if not self.broken:  # else the failure that stopped the run was said already
                raise


def start_fields(settings: Any, geometry: Geometry) -> dict[str, Any]:
    """What a run starts with, as run.json and the event stream say it."""
    m = geometry.monitor
    return {"settings": settings.model_dump(), "display": geometry.desktop,
            "monitor": {"index": geometry.index, "left": m.left, "top": m.top, "width": m.width,
                        "height": m.height, "input_scale": list(geometry.input_scale)}}


def pause_fields(number: int, interrupted: str) -> dict[str, Any]:
    """A pause as the run record and the event stream keep it."""
    return {"step": number, "interrupted": interrupted, "time": _now()}


def resume_fields(seconds: float, note: str) -> dict[str, Any]:
    return {"seconds": round(seconds, 3), "note": note}


def end_fields(result: RunResult) -> dict[str, Any]:
    """How a run ended, besides status and reason, as run.json and the event stream say it."""
    out = {"answer": result.answer, "steps": result.steps, "seconds": round(result.seconds, 3),
           "model_calls": result.model_calls, "forecast_steps": result.forecast_steps}
    if result.zoom_calls:
        out["zoom_calls"] = result.zoom_calls
    if result.needed_human:
        out["needed_human"] = result.needed_human
    return out


def step_line(record: StepRecord) -> dict[str, Any]:
    """One step of the agent as steps.jsonl and the event stream hold it (the screenshot by
    the name RunLog saves it under)."""
    line: dict[str, Any] = {"step": record.number, "time": _now()}
    if record.image is not None:
        line["screenshot"] = f"step-{record.number:03d}.png"
        line["image_size"] = list(record.image.size)
    if record.forecast is not None:
        line["plan"] = record.forecast.plan.to_dict()
        if record.forecast.revision is not None:
            line["revision"] = {"steps": record.forecast.revision.steps,
                                "reason": record.forecast.revision.reason}
    if record.hits is not None:
        line["elements"] = record.hits  # (tracer plan) what each forecast step would hit
    if record.speculative:
        line["from_forecast"] = True  # run without a model call
    if record.streamed:
        line["streamed"] = True  # started while the model still wrote its forecast
    if record.rest:
        line["rest"] = record.rest
    if record.first_input is not None:
        line["first_input_ms"] = round(record.first_input * 1000)
    if record.verdict is not None:
        line["check"] = {"status": record.verdict.status, "reason": record.verdict.reason}
    line["attempts"] = [attempt_line(a) for a in record.attempts]
    if record.elements_sent is not None:
        line["elements_sent"] = record.elements_sent  # listed in the request (--elements)
    if record.elements_note:
        line["elements_note"] = record.elements_note
    if record.action is not None:
        line["action"] = step_dict(record.action)
        line["points"] = [list(p) for p in record.points]
        if record.element:
            line["element"] = record.element
    if record.grounding is not None:
        line["grounding"] = record.grounding
    if record.risk:
        line["risk"] = record.risk
    if record.effect is not None:
        line["effect"] = record.effect.to_dict()
    line["outcome"] = record.outcome.text()
    line.update(record.outcome.fields())
    line["timings"] = {k: round(v, 4) for k, v in record.timings.items()}
    return line


ANSWER_LIMIT = 100_000  # characters of one answer, and of its reasoning, kept in the record


def bounded(text: str, limit: int = ANSWER_LIMIT) -> str:
    """``text`` whole, or, over ``limit`` characters, its start and its end (where the answer
    proper comes, after any reasoning) with a note of how much was cut between them."""
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    return (f"{text[:head]}\n[... tracer cut {len(text) - limit:,} of {len(text):,} characters "
            f"here ...]\n{text[-tail:]}")


def attempt_line(attempt: Attempt) -> dict[str, Any]:
    """One model answer as the record keeps it: each text once (the reasoning written inside
    the answer is not written again: ``attempt_reasoning`` finds it there) and bounded."""
    apart = _reasoning_apart(attempt.reasoning, attempt.answer)
    return {"answer": bounded(attempt.answer), "error": attempt.error,
            "seconds": round(attempt.seconds, 3), "prompt_tokens": attempt.prompt_tokens,
            "completion_tokens": attempt.completion_tokens, "reused_tokens": attempt.reused_tokens,
            **({"reasoning": bounded(apart)} if apart else {}),
            **({"cut_off": True} if attempt.cut_off else {}),
            **({"prefix_from_disk": attempt.disk_tokens} if attempt.disk_tokens else {}),
            **({"follow_up": attempt.follow_up} if attempt.follow_up else {})}


def _reasoning_apart(reasoning: str, answer: str) -> str:
    """The part of an attempt's reasoning that its answer does not hold: what the server
    returned apart (``split`` puts it before the reasoning written in the answer)."""
    inline = split(answer).reasoning
    if inline and reasoning.endswith(inline):
        return reasoning[: len(reasoning) - len(inline)].strip()
    return reasoning


def attempt_reasoning(line: dict[str, Any]) -> str:
    """All the reasoning of a recorded attempt: what came apart, and what its answer holds."""
    return split(str(line.get("answer") or ""), str(line.get("reasoning") or "")).reasoning


@dataclass
class RunSummary:
    id: str
    path: Path
    meta: dict[str, Any]

    @property
    def status(self) -> str:
        status = self.meta.get("status", "?")
        if status == "running" and not _alive(self.meta.get("pid")):
            return "cut off"  # the process died before it could write how the run ended
        return status

    def steps(self) -> list[dict[str, Any]]:
        path = self.path / "steps.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash: keep the others
        return out


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_runs(root: Path) -> list[RunSummary]:
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(root.iterdir()):
        meta_path = path / "run.json"
        if not meta_path.is_file():
            continue
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            meta = {"status": "unreadable"}
        runs.append(RunSummary(path.name, path, meta))
    return runs


def find_run(root: Path, ref: str) -> RunSummary:
    runs = list_runs(root)
    if not runs:
        raise ConfigError(f"no runs recorded in {root}", "run `tracer do` or `tracer plan` first")
    if ref in ("last", "latest"):
        return runs[-1]
    matches = [r for r in runs if r.id == ref] or [r for r in runs if r.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(f"no run {ref!r}", "see `tracer logs` for the run ids")
    raise ConfigError(f"{len(matches)} runs start with {ref!r}", "give more of the id")
