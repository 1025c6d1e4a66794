"""`tracer bench`: a suite of small desktop tasks (Tk programs that know their own state and
where the widget to click next is), run through `tracer batch` in sandboxes and scored."""
