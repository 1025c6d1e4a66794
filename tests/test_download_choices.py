"""What the user said about a download, remembered (tracer_cli/download_choices.py): a no
stands until the model is pulled by hand, an unreachable hub for a day."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

from tracer_cli import download_choices as choices


def test_a_no_stands_until_the_model_is_pulled(tracer_home: Path) -> None:
    assert choices.standing("m") == ""
    choices.remember("m", choices.DECLINED)
    assert "you declined the download of m" in choices.standing("m")
    assert "tracer models pull m gets it" in choices.standing("m", now=time.time() + 10 ** 8)
    assert choices.standing("other") == ""
    choices.forget("m")
    assert choices.standing("m") == ""


def test_an_unreachable_hub_is_not_tried_again_for_a_day(tracer_home: Path) -> None:
    choices.remember("m", choices.UNREACHABLE)
    assert "could not be reached" in choices.standing("m")
    later = time.time() + choices.RETRY_UNREACHABLE + 1
    assert choices.standing("m", now=later) == ""


def test_the_record_is_private_and_a_damaged_one_is_no_record(tracer_home: Path) -> None:
    choices.remember("m", choices.DECLINED)
    path = tracer_home / "cache" / "downloads.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["m"]["what"] == "declined"
    path.write_text("{not json")
    assert choices.standing("m") == ""
    path.write_text(json.dumps({"m": {"what": "declined", "at": "yesterday"}}))
    assert choices.standing("m") == ""


def test_the_offer_says_the_size_and_the_time() -> None:
    assert choices.estimate(3_333_461_920) == "3.3 GB, about 9 min at 50 Mbit/s"
    assert choices.estimate(6_200_000_000) == "6.2 GB, about 17 min at 50 Mbit/s"
    assert choices.estimate(2_000_000) == "2.0 MB, under a minute at 50 Mbit/s"
    assert choices.estimate(None) == "several GB"
