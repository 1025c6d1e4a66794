"""Reading text on the screen: OCR engines (RapidOCR, Tesseract) and finding a text in what
they read.

Boxes are pixels of the image that was read. Engines return lines (``TextBox``) in reading
order; a line may carry the boxes of its characters or words (``parts``), which place a
query that is only part of the line. The heavy modules (numpy, onnxruntime, OpenCV,
pytesseract) are imported when an engine is first used, never on import of this module.

Why one module of this size: the engine interface, its two engines and the matching rules change
together (a new engine must satisfy the same matching).
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tracer_cli.errors import ConfigError

if TYPE_CHECKING:
    from PIL import Image

ENGINES = ("rapidocr", "tesseract")


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels: left/top inclusive, right/bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[int, int]:
        return (self.left + self.right) // 2, (self.top + self.bottom) // 2

    def shifted(self, dx: int, dy: int) -> Box:
        return Box(self.left + dx, self.top + dy, self.right + dx, self.bottom + dy)

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x < self.right and self.top <= y < self.bottom

    def distance(self, x: float, y: float) -> float:
        """How far (x, y) lies outside the box: 0 inside."""
        dx = max(self.left - x, 0, x - (self.right - 1))
        dy = max(self.top - y, 0, y - (self.bottom - 1))
        return float((dx * dx + dy * dy) ** 0.5)

    def union(self, other: Box) -> Box:
        return Box(min(self.left, other.left), min(self.top, other.top),
                   max(self.right, other.right), max(self.bottom, other.bottom))


@dataclass(frozen=True)
class TextBox:
    """One line (or word) that OCR read. ``parts``: boxes of the line's characters or words,
    in order, when the engine gives them (their texts, joined, are the line without spaces)."""

    text: str
    box: Box
    score: float
    parts: tuple[TextBox, ...] = ()

    def shifted(self, dx: int, dy: int) -> TextBox:
        return TextBox(self.text, self.box.shifted(dx, dy), self.score,
                       tuple(p.shifted(dx, dy) for p in self.parts))


@dataclass(frozen=True)
class Match:
    """Where a text or an image was found. For text, ``text`` is what OCR read there."""

    box: Box
    score: float
    text: str = ""


class OcrEngine(Protocol):
    name: str

    def read(self, image: Image.Image) -> list[TextBox]: ...


def reading_order(boxes: list[Any], key: Any = lambda item: item.box) -> list[Any]:
    """Top to bottom, then left to right; items whose vertical centres are within half a line
    height of the row's first item count as one row."""
    items = sorted(boxes, key=lambda item: (key(item).center[1], key(item).left))
    rows: list[list[Any]] = []
    for item in items:
        box = key(item)
        if rows:
            first = key(rows[-1][0])
            if abs(box.center[1] - first.center[1]) <= max(2, min(box.height, first.height) // 2):
                rows[-1].append(item)
                continue
        rows.append([item])
    return [item for row in rows for item in sorted(row, key=lambda it: key(it).left)]


# --- engines -----------------------------------------------------------------------------------


class RapidOcrEngine:
    """PP-OCRv4 through onnxruntime (rapidocr-onnxruntime): the models ship in the wheel.

    Tuned for screens: no angle classifier (screen text is upright), detection at the
    screenshot's own resolution up to ``max_side`` (UI text is small: shrinking loses it),
    character boxes from the recogniser (``return_word_box``) to place part of a line."""

    name = "rapidocr"

    def __init__(self, max_side: int = 2000, det_max_side: int | None = None,
                 rec_batch: int = 6, text_score: float = 0.5, box_thresh: float = 0.5,
                 unclip_ratio: float = 1.6, threads: int = -1) -> None:
        for logger_name in ("RapidOCR", "OrtInferSession"):
            logging.getLogger(logger_name).setLevel(logging.ERROR)
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(f"the rapidocr engine is not available: {exc}",
                              "pip install rapidocr-onnxruntime (Python < 3.13), "
                              "or use --ocr tesseract") from None
        options: dict[str, Any] = {
            "use_cls": False, "max_side_len": max_side, "text_score": text_score,
            "det_box_thresh": box_thresh, "det_unclip_ratio": unclip_ratio,
            "rec_batch_num": rec_batch, "intra_op_num_threads": threads,
        }
        if det_max_side:  # shrink the detector's input so its longer side is at most this
            options.update({"det_limit_type": "max", "det_limit_side_len": det_max_side})
        self._ocr = RapidOCR(**options)
        self._call = {"use_cls": False, "return_word_box": True, "box_thresh": box_thresh,
                      "unclip_ratio": unclip_ratio, "text_score": text_score}
        for logger_name in ("RapidOCR", "OrtInferSession"):
            logging.getLogger(logger_name).setLevel(logging.ERROR)

    def read(self, image: Image.Image) -> list[TextBox]:
        result, _ = self._ocr(image.convert("RGB"), **self._call)
        lines = []
        for item in result or []:
            points, text, score = item[0], str(item[1]), float(item[2])
            text = text.strip()
            if not text:
                continue
            parts: tuple[TextBox, ...] = ()
            if len(item) >= 5 and item[3] and len(item[3]) == len(item[4]):
                parts = tuple(TextBox(str(t), _quad_box(q), score)
                              for q, t in zip(item[3], item[4], strict=False))
            lines.append(TextBox(text, _quad_box(points), score, parts))
        return reading_order(lines)


def _quad_box(points: Any) -> Box:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return Box(int(min(xs)), int(min(ys)), int(round(max(xs))), int(round(max(ys))))


class TesseractEngine:
    """Tesseract 5 through pytesseract: words grouped into the lines Tesseract found.

    ``scale`` enlarges the screenshot first: small screen fonts (a 6x13 terminal font) are
    lost at their own size. Sauvola's local thresholding (``thresholding_method=2``) keeps a
    white window on a black desktop from hiding its text, as Otsu's global threshold does."""

    name = "tesseract"

    def __init__(self, psm: int = 3, scale: float = 2.0, lang: str = "eng",
                 thresholding: int = 2) -> None:
        if not shutil.which("tesseract"):
            raise ConfigError("the tesseract engine is not available: no tesseract program",
                              "apt-get install tesseract-ocr (and pip install pytesseract)")
        try:
            import pytesseract
        except ImportError:
            raise ConfigError("the tesseract engine is not available: pytesseract is missing",
                              "pip install pytesseract") from None
        self._tess = pytesseract
        self.psm, self.scale, self.lang, self.thresholding = psm, scale, lang, thresholding

    def read(self, image: Image.Image) -> list[TextBox]:
        from PIL import Image as PILImage

        gray = image.convert("L")
        if self.scale != 1.0:
            gray = gray.resize((round(gray.width * self.scale), round(gray.height * self.scale)),
                               PILImage.Resampling.BICUBIC)
        config = f"--psm {self.psm} -c thresholding_method={self.thresholding}"
        data = self._tess.image_to_data(gray, lang=self.lang, config=config,
                                        output_type=self._tess.Output.DICT)
        groups: dict[tuple[int, int, int], list[TextBox]] = {}
        for i, word in enumerate(data["text"]):
            word = word.strip()
            conf = float(data["conf"][i])
            if not word or conf < 0:
                continue
            s = self.scale
            box = Box(int(data["left"][i] / s), int(data["top"][i] / s),
                      round((data["left"][i] + data["width"][i]) / s),
                      round((data["top"][i] + data["height"][i]) / s))
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            groups.setdefault(key, []).append(TextBox(word, box, conf / 100))
        lines = []
        for words in groups.values():
            words.sort(key=lambda w: w.box.left)
            for run in _split_far(words):
                box = functools.reduce(Box.union, (w.box for w in run))
                score = sum(w.score for w in run) / len(run)
                lines.append(TextBox(" ".join(w.text for w in run), box, score, tuple(run)))
        return reading_order(lines)


def _split_far(words: list[TextBox]) -> list[list[TextBox]]:
    """Split a line where two words are further apart than twice the line height (two
    widgets side by side that Tesseract put on one line)."""
    runs = [[words[0]]]
    for word in words[1:]:
        prev = runs[-1][-1]
        if word.box.left - prev.box.right > 2 * max(prev.box.height, word.box.height):
            runs.append([word])
        else:
            runs[-1].append(word)
    return runs


def rapidocr_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


@functools.cache
def get_engine(name: str = "auto") -> OcrEngine:
    """One engine per process and name. ``auto``: RapidOCR when installed, else Tesseract."""
    if name == "auto":
        if rapidocr_available():
            return get_engine("rapidocr")
        if shutil.which("tesseract"):
            return get_engine("tesseract")
        raise ConfigError("no OCR engine is installed",
                          "pip install rapidocr-onnxruntime (Python < 3.13), or "
                          "apt-get install tesseract-ocr && pip install pytesseract")
    if name == "rapidocr":
        return RapidOcrEngine()
    if name == "tesseract":
        return TesseractEngine()
    raise ConfigError(f"unknown OCR engine {name!r}", f"choose one of auto, {', '.join(ENGINES)}")


def read_region(engine: OcrEngine, image: Image.Image, region: Box | None = None) -> list[TextBox]:
    """OCR ``image`` (or only ``region`` of it); boxes are in the full image's pixels."""
    if region is None:
        return engine.read(image)
    left, top = max(0, region.left), max(0, region.top)
    right, bottom = min(image.width, region.right), min(image.height, region.bottom)
    if right <= left or bottom <= top:
        return []
    crop = image.crop((left, top, right, bottom))
    return [line.shifted(left, top) for line in engine.read(crop)]


# --- matching ----------------------------------------------------------------------------------

# Characters OCR confuses in screen fonts, folded together when matching loosely.
_FOLD = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "!": "l"})


def max_errors(length: int) -> int:
    """Edits (insert, delete, substitute a character) tolerated for a query of ``length``
    characters, spaces not counted: none up to 4, one up to 8, two up to 14, then one per 7."""
    if length <= 4:
        return 0
    if length <= 8:
        return 1
    if length <= 14:
        return 2
    return length // 7


def _squeeze(text: str) -> tuple[str, list[int]]:
    """The text without whitespace, case-folded, and where each kept character came from."""
    chars, where = [], []
    for i, ch in enumerate(text):
        if not ch.isspace():
            folded = ch.casefold()
            chars.append(folded)
            where.extend([i] * len(folded))
    return "".join(chars), where


def _approx_find(pattern: str, text: str, k: int) -> list[tuple[int, int, int]]:
    """Non-overlapping (start, end, edits) where ``pattern`` occurs in ``text`` with at most
    ``k`` edits (Sellers' semi-global edit distance), best first within each overlap."""
    m = len(pattern)
    if m == 0:
        return []
    prev = list(range(m + 1))  # cost of matching pattern[:i] ending before text[0]
    prev_start = [0] * (m + 1)
    ends: list[tuple[int, int, int]] = []  # (edits, end, start)
    for j, ch in enumerate(text, start=1):
        cur, cur_start = [0], [j]
        for i in range(1, m + 1):
            sub = prev[i - 1] + (pattern[i - 1] != ch)
            dele = prev[i] + 1
            ins = cur[i - 1] + 1
            best = min(sub, dele, ins)
            cur.append(best)
            if best == sub:
                cur_start.append(prev_start[i - 1])
            elif best == ins:
                cur_start.append(cur_start[i - 1])
            else:
                cur_start.append(prev_start[i])
        if cur[m] <= k:
            ends.append((cur[m], j, cur_start[m]))
        prev, prev_start = cur, cur_start
    taken: list[tuple[int, int, int]] = []
    for edits, end, start in sorted(ends, key=lambda e: (e[0], -(e[1] - e[2]), e[1])):
        if all(end <= s or start >= e for s, e, _ in taken):
            taken.append((start, end, edits))
    return sorted(taken)


def _boundary_before(text: str, i: int) -> bool:
    if i <= 0:
        return True
    a, b = text[i - 1], text[i]
    return not a.isalnum() or not b.isalnum() or b.isupper() or a.isdigit() != b.isdigit()


def _boundary_after(text: str, j: int) -> bool:
    if j >= len(text):
        return True
    a, b = text[j - 1], text[j]
    return not a.isalnum() or not b.isalnum() or b.isupper() or a.isdigit() != b.isdigit()


def char_boxes(line: TextBox) -> list[Box | None]:
    """A box for each character of ``line.text`` (None for spaces): from the engine's character
    or word boxes when it gave them, else spread over the line box in proportion."""
    text = line.text
    solid = [i for i, ch in enumerate(text) if not ch.isspace()]
    out: list[Box | None] = [None] * len(text)
    b = line.box
    parts = [p for p in line.parts if p.text.strip()]
    if parts and "".join(p.text for p in parts).replace(" ", "") == "".join(text[i] for i in solid):
        k = 0
        for part in parts:
            n = len(part.text.replace(" ", ""))
            pb = part.box
            for c in range(n):
                left = pb.left + pb.width * c // n
                right = pb.left + pb.width * (c + 1) // n
                out[solid[k]] = Box(left, pb.top, max(right, left + 1), pb.bottom)
                k += 1
        return out
    n = max(1, len(text))
    for i in solid:
        left = b.left + b.width * i // n
        right = b.left + b.width * (i + 1) // n
        out[i] = Box(left, b.top, max(right, left + 1), b.bottom)
    return out


def _span_box(line: TextBox, start: int, end: int) -> Box:
    """The box of characters start..end-1 of the line (its whole box when that is all)."""
    if start <= 0 and end >= len(line.text):
        return line.box
    boxes = [bx for bx in char_boxes(line)[start:end] if bx is not None]
    if not boxes:
        return line.box
    span = functools.reduce(Box.union, boxes)
    return Box(span.left, min(span.top, line.box.top), span.right, max(span.bottom, line.box.bottom))


def find_text(lines: list[TextBox], query: str, exact: bool = False) -> list[Match]:
    """Where ``query`` appears in the OCR ``lines``, in reading order.

    exact: the query, case and spaces as given, is a substring of a line.
    Otherwise the rule is: compare without case and without whitespace (so "SaveAs" is
    "Save As"), with the OCR look-alikes 0/o and 1/l/i/| treated as equal, allowing
    ``max_errors(len(query))`` character edits (none for 4 characters or fewer: "Save" never
    matches "Cave"), and the match must begin and end at word boundaries of the line (a
    space, punctuation, the line's ends, a capital letter or a letter/digit change) so that
    "Save" does not match inside "Saved" or "autosave". Score: 1 for an exact (case-folded)
    match, less per edit. A query that is part of a line gets a box for just that part."""
    matches = _find_in(lines, query, exact)
    if len(query.split()) > 1:  # words an engine boxed one by one: look in their rows too
        matches += [m for m in _find_in(_rows(lines), query, exact)
                    if not any(other.box.contains(*m.box.center) for other in matches)]
    return reading_order(matches)


def _rows(lines: list[TextBox]) -> list[TextBox]:
    """Boxes side by side on one row, a word gap or less apart, joined into one line (only
    rows of two or more boxes)."""
    rows: list[list[TextBox]] = []
    for line in sorted(lines, key=lambda t: (t.box.top, t.box.left)):
        for row in rows:
            last = row[-1]
            height = min(last.box.height, line.box.height)
            overlap = min(last.box.bottom, line.box.bottom) - max(last.box.top, line.box.top)
            if overlap > height / 2 and -height <= line.box.left - last.box.right <= height:
                row.append(line)
                break
        else:
            rows.append([line])
    return [TextBox(" ".join(t.text for t in row), functools.reduce(Box.union, (t.box for t in row)),
                    min(t.score for t in row)) for row in rows if len(row) > 1]


def _find_in(lines: list[TextBox], query: str, exact: bool) -> list[Match]:
    matches: list[Match] = []
    if not query.strip():
        return matches
    q, _ = _squeeze(query)
    qf = q.translate(_FOLD)
    k = max_errors(len(q))
    for line in lines:
        text = line.text
        if exact:
            start = text.find(query)
            while start >= 0:
                box = _span_box(line, start, start + len(query))
                matches.append(Match(box, 1.0, text[start:start + len(query)]))
                start = text.find(query, start + max(1, len(query)))
            continue
        squeezed, where = _squeeze(text)
        if len(squeezed) < len(q) - k:
            continue
        hits = _approx_find(qf, squeezed.translate(_FOLD), k)
        for s, e, edits in hits:
            if e <= s:
                continue
            a, b = where[s], where[e - 1] + 1
            if not (_boundary_before(text, a) and _boundary_after(text, b)):
                continue
            score = 1.0 if squeezed[s:e] == q else max(0.0, 1.0 - (edits + 0.5) / max(1, len(q)))
            matches.append(Match(_span_box(line, a, b), round(score, 3), text[a:b]))
    return matches


def find_word(lines: list[TextBox], word: str, exact: bool = False) -> list[Match]:
    """Where ``word`` stands as a whole word of its own (between spaces or a line's ends), in
    reading order: for the shortest targets (one or two characters), where a near match is a
    different button ("+" in "M+"). Without ``exact``, case does not matter."""
    want = word.strip() if exact else word.strip().casefold()
    matches = []
    for line in lines:
        for found in _words(line):
            if (found.text if exact else found.text.casefold()) == want:
                matches.append(Match(found.box, 1.0, found.text))
    return reading_order(matches)


def _words(line: TextBox) -> list[TextBox]:
    """The line split into words (whitespace), each with its box."""
    boxes = char_boxes(line)
    words = []
    for found in re.finditer(r"\S+", line.text):
        chars = [bx for bx in boxes[found.start():found.end()] if bx is not None]
        box = functools.reduce(Box.union, chars) if chars else line.box
        box = Box(box.left, line.box.top, box.right, line.box.bottom)
        words.append(TextBox(found.group(), box, line.score))
    return words


def text_at(lines: list[TextBox], x: int, y: int, max_distance: int = 8,
            max_words: int = 3) -> TextBox | None:
    """The OCR text under (x, y), or the nearest within ``max_distance`` pixels: the line,
    or, for a line of more than ``max_words`` words, the group of words under the point
    (words closer than a line height apart), or just the word when that group is long too."""
    best, best_d = None, float(max_distance) + 0.001
    for line in lines:
        d = line.box.distance(x, y)
        if d < best_d or (d == best_d == 0 and best is not None and line.box.height < best.box.height):
            best, best_d = line, d
    if best is None:
        return None
    words = _words(best)
    if len(words) <= max_words:
        return best
    groups: list[list[TextBox]] = [[words[0]]]
    for word in words[1:]:
        if word.box.left - groups[-1][-1].box.right > best.box.height:
            groups.append([word])
        else:
            groups[-1].append(word)

    def nearest(items: list[Any], box_of: Any) -> Any:
        return min(items, key=lambda it: (box_of(it).distance(x, best.box.center[1]),
                                          abs(box_of(it).center[0] - x)))

    group = nearest(groups, lambda g: functools.reduce(Box.union, (w.box for w in g)))
    if len(group) > max_words:
        return nearest(group, lambda w: w.box)
    box = functools.reduce(Box.union, (w.box for w in group))
    return TextBox(" ".join(w.text for w in group), box, best.score, tuple(group))
