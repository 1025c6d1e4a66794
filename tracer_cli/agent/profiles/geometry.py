"""Image geometry of a model family: the screenshot size its processor keeps, and what the
numbers in its answers mean.

A vision-language model does not see the screenshot it is sent: its processor resizes it first
(sides to multiples of patch size x merge size, pixels between a minimum and a maximum), and
llama.cpp's mtmd does the same with its own limits (8 to 4096 image tokens for the Qwen-VL
projectors; tools/mtmd/clip.cpp) and pads instead of stretching when the aspect ratio changes.
A model answering in absolute pixels then answers in a space tracer does not know, and padding
moves every point towards the middle. So tracer sends only sizes that no processor changes
again: sides multiples of the factor, pixels within both the family's and llama.cpp's limits.
The profile still maps an absolute answer back through the size the family's processor would
compute (``processed``), which for such an image is the image's own size.

Sources: Qwen3-VL preprocessor_config.json (patch 16, merge 2, 65,536 to 16,777,216 pixels);
UI-TARS ``codes/ui_tars/action_parser.py`` (smart_resize: factor 28, 100*28*28 to 16384*28*28
pixels, absolute coordinates on the resized image); OpenCUA ``model/README.md`` and OSWorld's
``mm_agents/opencua/opencua_agent.py`` (smart_resize factor 28, 3,136 to 12,845,056 pixels,
absolute coordinates on the resized image); Holo1.5 (hcompai/hai-cookbook
``holo1_5/holo_1_5_quickstart.ipynb``: the processor's own smart_resize, absolute pixels of the
resized image; the limits are Qwen2.5-VL's, see profiles/holo.py); llama.cpp ``tools/mtmd/clip.cpp``
(``set_limit_image_tokens(8, 4096)`` and the warning that Qwen-VL grounding needs at least 1024
image tokens); ``tools/mtmd/mtmd-image.cpp`` (``calc_size_preserved_ratio``: round to the
factor, floor under the maximum, ceil over the minimum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LLAMA_CPP_MAX_TOKENS = 4096  # llama.cpp's cap on image tokens for the Qwen-VL projectors
GROUNDING_MIN_TOKENS = 1024  # below this Qwen-VL grounding degrades (llama.cpp warns)
DEFAULT_TOKENS = 1120  # tracer's default budget: the grounding minimum plus rounding room


@dataclass(frozen=True)
class ImageGeometry:
    family: str
    factor: int  # patch size x merge size: sides the processor keeps
    min_pixels: int  # the family's processor minimum
    max_pixels: int  # the family's processor maximum
    coordinates: str  # "relative": 0..1000 of the image; "absolute": pixels of the image

    @property
    def token_pixels(self) -> int:
        return self.factor * self.factor

    @property
    def max_budget(self) -> int:
        """The most pixels an image may have and still be kept as it is by the family's
        processor and by llama.cpp."""
        return min(self.max_pixels, LLAMA_CPP_MAX_TOKENS * self.token_pixels)

    @property
    def grounding_pixels(self) -> int:
        return GROUNDING_MIN_TOKENS * self.token_pixels

    @property
    def default_budget(self) -> int:
        return DEFAULT_TOKENS * self.token_pixels

    def budget(self, requested: int) -> int:
        """The pixel budget to use for a requested one (0: the default), capped so that nothing
        downstream resizes the image again."""
        return max(self.min_pixels, min(requested or self.default_budget, self.max_budget))

    def size(self, width: int, height: int, budget: int = 0) -> tuple[int, int]:
        """The size to send a ``width`` x ``height`` screenshot at: sides multiples of the
        factor, at most ``budget`` pixels (capped), at least the grounding minimum unless the
        budget asked is smaller. Every processor of the family keeps this size."""
        top = self.budget(budget)
        bottom = max(self.min_pixels, min(self.grounding_pixels, top))
        return resize(width, height, self.factor, bottom, top)

    def processed(self, width: int, height: int) -> tuple[int, int]:
        """The size the family's own processor turns a ``width`` x ``height`` image into (the
        space of an absolute answer)."""
        return resize(width, height, self.factor, self.min_pixels, self.max_pixels)

    def budget_warning(self, requested: int, zoom: bool = False) -> str | None:
        """What to tell a user whose budget tracer cannot honour as asked (``zoom``: clicks are
        placed again on a full-resolution crop under the grounding minimum)."""
        if requested > self.max_budget:
            return (f"--max-pixels {requested} is more than {self.family} keeps without resizing "
                    f"again ({self.max_budget} pixels, {LLAMA_CPP_MAX_TOKENS} image tokens): "
                    f"using {self.max_budget}")
        if requested and requested < self.grounding_pixels:
            return (f"--max-pixels {requested} is under {self.family}'s grounding minimum "
                    f"({self.grounding_pixels} pixels, {GROUNDING_MIN_TOKENS} image tokens): "
                    + ("each click is placed again on a full-resolution crop around the model's "
                       "point, unless the screen shows its target there (--no-zoom: keep its "
                       "points)" if zoom else "clicks may land less precisely"))
        return None

    def tokens(self, width: int, height: int) -> int:
        return (width // self.factor) * (height // self.factor)

    def describe(self) -> str:
        space = ("0..1000 relative to the image" if self.coordinates == "relative"
                 else "absolute pixels of the image")
        return f"sides multiples of {self.factor}, coordinates {space}"


def resize(width: int, height: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """smart_resize as the Qwen-VL processors and llama.cpp compute it: sides rounded to the
    factor, scaled down (floored) above ``max_pixels``, up (ceiled) below ``min_pixels``."""
    w = max(factor, round(width / factor) * factor)
    h = max(factor, round(height / factor) * factor)
    if w * h > max_pixels:
        beta = math.sqrt(width * height / max_pixels)
        w = max(factor, math.floor(width / beta / factor) * factor)
        h = max(factor, math.floor(height / beta / factor) * factor)
    elif w * h < min_pixels:
        beta = math.sqrt(min_pixels / (width * height))
        w = math.ceil(width * beta / factor) * factor
        h = math.ceil(height * beta / factor) * factor
    return w, h


QWEN3_VL = ImageGeometry("Qwen3-VL", 32, 65_536, 16_777_216, "relative")
QWEN2_VL = ImageGeometry("Qwen2-VL / UI-TARS v1", 28, 4 * 28 * 28, 16384 * 28 * 28, "relative")
QWEN25_VL = ImageGeometry("Qwen2.5-VL / UI-TARS-1.5", 28, 100 * 28 * 28, 16384 * 28 * 28, "absolute")
OPENCUA = ImageGeometry("OpenCUA (Qwen2.5-VL)", 28, 3136, 12_845_056, "absolute")
HOLO15 = ImageGeometry("Holo1.5 (Qwen2.5-VL)", 28, 3136, 12_845_056, "absolute")
