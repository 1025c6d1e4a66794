"""effects.compare: a real change anywhere around the point acted on is a visible effect, however
small; a change far away is only when it is large; noise is not."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from tracer_cli.agent.effects import MIN_PIXELS, compare

SIZE = (1280, 800)


def screen() -> Image.Image:
    image = Image.new("RGB", SIZE, "#f0f0f0")
    draw = ImageDraw.Draw(image)
    draw.rectangle((300, 300, 313, 313), outline="black", fill="white")  # an empty checkbox
    draw.text((330, 300), "Send me the monthly newsletter", fill="black")
    return image


def point(x: int, y: int) -> tuple[int, int]:
    return round(x * 1000 / SIZE[0]), round(y * 1000 / SIZE[1])


def test_a_tick_100_px_from_the_click_is_visible() -> None:
    before = screen()
    after = before.copy()
    ImageDraw.Draw(after).line((302, 306, 305, 311, 311, 302), fill="black", width=2)  # the tick
    effect = compare(before, after, point(420, 306))  # clicked on the label's end
    assert effect.visible and effect.pixels >= MIN_PIXELS
    assert effect.overall < 0.0005  # far too small a share of the screen to count on its own


def test_one_character_and_a_caret_are_visible() -> None:
    before = screen()
    typed = before.copy()
    ImageDraw.Draw(typed).text((520, 300), ".", fill="black", font=ImageFont.load_default(size=13))
    assert compare(before, typed).visible  # keys: no point, anywhere counts
    caret = before.copy()
    ImageDraw.Draw(caret).line((600, 298, 600, 312), fill="black")  # a caret of 1 x 15 px
    assert compare(before, caret).visible


def test_nothing_or_noise_is_not_visible() -> None:
    before = screen()
    assert not compare(before, before.copy(), point(640, 400)).visible
    noisy = before.point(lambda v: max(0, v - 8))  # every pixel a little darker: not a change
    assert not compare(before, noisy, point(640, 400)).visible


def test_a_small_change_far_from_the_point_does_not_count_a_large_one_does() -> None:
    before = screen()
    clock = before.copy()
    ImageDraw.Draw(clock).text((1220, 780), "12:01", fill="black")  # a panel clock, far away
    assert not compare(before, clock, point(100, 100)).visible
    window = before.copy()
    ImageDraw.Draw(window).rectangle((900, 500, 1200, 750), fill="navy")  # a window opened
    assert compare(before, window, point(100, 100)).visible


def test_a_change_of_colour_alone_is_visible() -> None:
    """A status light turning from red to a green of the same grey level."""
    before = screen()
    ImageDraw.Draw(before).ellipse((600, 300, 612, 312), fill=(200, 60, 60))
    after = before.copy()
    grey = round(0.299 * 200 + 0.587 * 60 + 0.114 * 60)
    green = round((grey - 0.299 * 60 - 0.114 * 60) / 0.587)
    ImageDraw.Draw(after).ellipse((600, 300, 612, 312), fill=(60, green, 60))
    assert before.convert("L").tobytes() == after.convert("L").tobytes()  # the same in grey
    assert compare(before, after, point(606, 306)).visible


def test_a_caret_far_from_the_click_but_in_the_clicked_element_is_visible() -> None:
    """A click below the last line of a tall editor puts the caret at that line's end: 0.42 of
    the screen above the click in GTK's text view, beyond the region around the point."""
    before = Image.new("RGB", SIZE, "#f0f0f0")
    ImageDraw.Draw(before).rectangle((700, 60, 1150, 560), fill="white", outline="#808080")
    ImageDraw.Draw(before).text((710, 70), "Shopping list", fill="black")
    after = before.copy()
    ImageDraw.Draw(after).line((800, 70, 800, 86), fill="black", width=2)  # the caret
    click = point(950, 540)
    assert compare(before, after, click).visible
    # ... but the same caret in another element is not this click's doing
    elsewhere = Image.new("RGB", SIZE, "#f0f0f0")
    ImageDraw.Draw(elsewhere).rectangle((700, 60, 1150, 200), fill="white", outline="#808080")
    ImageDraw.Draw(elsewhere).rectangle((700, 400, 1150, 560), fill="white", outline="#808080")
    moved = elsewhere.copy()
    ImageDraw.Draw(moved).line((800, 70, 800, 86), fill="black", width=2)
    assert not compare(elsewhere, moved, click).visible
