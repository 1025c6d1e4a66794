"""Secrets in pixels: a screenshot tracer keeps (in a run record, a report, an MCP answer) while
a macro's secrets are registered has every line of text that reads as a secret painted over.

The text is read with the OCR engine that finds macro targets (its first load takes seconds, and
it is paid only by runs that have secrets); a line is a secret where ``redact`` (the one rule for
text) would change it. Where no OCR engine can read the screenshot, the whole picture is
withheld: it might show a secret that nothing could find."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracer_cli import redact
from tracer_cli.errors import TracerError

if TYPE_CHECKING:
    from PIL import Image

PAD = 3  # pixels around a line painted over (OCR boxes hug the glyphs)
COVER = (40, 40, 40)


def hide_secrets(image: Image.Image, engine: str = "auto") -> Image.Image:
    """``image``, or a copy with every line that shows a secret painted over (the image as
    it is when no secret is registered)."""
    if not redact.active():
        return image
    from PIL import ImageDraw

    from tracer_cli.vision.ocr import get_engine

    try:
        lines = get_engine(engine).read(image.convert("RGB"))
    except TracerError:
        return withheld(image)
    shown = [line for line in lines if redact.redact(line.text) != line.text]
    if not shown:
        return image
    masked = image.copy()
    draw = ImageDraw.Draw(masked)
    for line in shown:
        b = line.box
        draw.rectangle((b.left - PAD, b.top - PAD, b.right + PAD, b.bottom + PAD), fill=COVER)
    return masked


def withheld(image: Image.Image) -> Image.Image:
    """A grey picture of the same size that says why it is not the screenshot."""
    from PIL import Image, ImageDraw

    blank = Image.new("RGB", image.size, (128, 128, 128))
    ImageDraw.Draw(blank).text((10, 10), "screenshot withheld: it may show a secret, and no OCR "
                               "engine could look for it", fill=(255, 255, 255))
    return blank
