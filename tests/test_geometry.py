"""Image geometry: tracer sends only sizes that no processor of the family changes again.

The checks below compare with independent re-implementations of the two resizers the image
meets, written here from their sources: llama.cpp's ``calc_size_preserved_ratio`` (tools/mtmd/
mtmd-image.cpp, std::round, Qwen-VL limits 8..4096 tokens from clip.cpp) and UI-TARS's
``smart_resize`` (codes/ui_tars/action_parser.py: factor 28, 100*28*28..16384*28*28 pixels).
"""

from __future__ import annotations

import math

import pytest
from PIL import Image

from tracer_cli.agent.profiles import PROFILES
from tracer_cli.agent.profiles.geometry import QWEN3_VL, QWEN25_VL, ImageGeometry
from tracer_cli.desktop.screen import downscale

SCREENS = [(1280, 800), (1920, 1080), (1366, 768), (2560, 1440), (3840, 2160), (1024, 768),
           (5120, 1440), (800, 1280)]


def llama_cpp_size(width: int, height: int, align: int) -> tuple[int, int]:
    """mtmd's calc_size_preserved_ratio for the Qwen-VL projectors (min 8, max 4096 tokens)."""
    lo, hi = 8 * align * align, 4096 * align * align

    def rnd(v: float) -> int:
        return int(math.floor(v / align + 0.5)) * align  # std::round: half away from zero

    w, h = max(align, rnd(width)), max(align, rnd(height))
    if w * h > hi:
        beta = math.sqrt(height * width / hi)
        h = max(align, math.floor(height / beta / align) * align)
        w = max(align, math.floor(width / beta / align) * align)
    elif w * h < lo:
        beta = math.sqrt(lo / (height * width))
        h, w = math.ceil(height * beta / align) * align, math.ceil(width * beta / align) * align
    return w, h


def ui_tars_smart_resize(width: int, height: int) -> tuple[int, int]:
    factor, lo, hi = 28, 100 * 28 * 28, 16384 * 28 * 28
    h, w = max(factor, round(height / factor) * factor), max(factor, round(width / factor) * factor)
    if h * w > hi:
        beta = math.sqrt((height * width) / hi)
        h, w = math.floor(height / beta / factor) * factor, math.floor(width / beta / factor) * factor
    elif h * w < lo:
        beta = math.sqrt(lo / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return w, h


@pytest.mark.parametrize("geometry", [QWEN3_VL, QWEN25_VL], ids=["qwen3-vl", "ui-tars"])
@pytest.mark.parametrize("budget", [0, 400_000, 2_000_000, 3_211_264, 50_000_000])
@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_the_size_sent_is_kept_by_llama_cpp_and_by_the_family_processor(
        geometry: ImageGeometry, budget: int, width: int, height: int) -> None:
    w, h = geometry.size(width, height, budget)
    assert llama_cpp_size(w, h, geometry.factor) == (w, h)
    assert geometry.processed(w, h) == (w, h)
    if geometry is QWEN25_VL:
        assert ui_tars_smart_resize(w, h) == (w, h)


@pytest.mark.parametrize("geometry", [QWEN3_VL, QWEN25_VL], ids=["qwen3-vl", "ui-tars"])
@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_the_default_budget_meets_the_grounding_minimum(geometry: ImageGeometry, width: int,
                                                        height: int) -> None:
    """llama.cpp warns that Qwen-VL grounding needs at least 1024 image tokens."""
    w, h = geometry.size(width, height)
    assert 1024 <= geometry.tokens(w, h) <= 1300
    assert abs(w / h - width / height) < 0.05 * width / height  # the aspect ratio is kept


def test_a_budget_above_what_llama_cpp_keeps_is_capped_with_a_warning() -> None:
    """UI-TARS's processor would keep 12.8 M pixels, llama.cpp only 4096 tokens of 28x28."""
    assert QWEN25_VL.max_budget == 4096 * 28 * 28
    w, h = QWEN25_VL.size(3840, 2160, 8_000_000)
    assert w * h <= 4096 * 28 * 28
    warning = QWEN25_VL.budget_warning(8_000_000)
    assert warning is not None and "using 3211264" in warning
    assert QWEN25_VL.budget_warning(0) is None
    low = QWEN3_VL.budget_warning(300_000)
    assert low is not None and "grounding minimum" in low
    assert "less precisely" in low and "crop" in (QWEN3_VL.budget_warning(300_000, zoom=True) or "")
    assert QWEN3_VL.size(1920, 1080, 300_000)[0] * QWEN3_VL.size(1920, 1080, 300_000)[1] <= 300_000


def test_ui_tars_processed_size_is_the_one_its_readme_names() -> None:
    """README_coordinates.md of UI-TARS: a 1920x1080 screenshot is seen as 1932x1092."""
    assert QWEN25_VL.processed(1920, 1080) == (1932, 1092) == ui_tars_smart_resize(1920, 1080)


def test_each_profile_has_its_family_geometry() -> None:
    assert PROFILES.get("ui-tars").geometry is QWEN25_VL
    assert PROFILES.get("qwen3-vl").geometry is QWEN3_VL
    assert PROFILES.get("tracer1").geometry is QWEN3_VL


def test_downscale_resizes_to_the_geometry_and_leaves_a_kept_size_alone() -> None:
    image = Image.new("RGB", (1920, 1080), "white")
    small = downscale(image, QWEN25_VL.size(1920, 1080))
    assert small.size == QWEN25_VL.size(1920, 1080)
    kept = Image.new("RGB", small.size, "white")
    assert downscale(kept, QWEN25_VL.size(*kept.size)) is kept
