"""The `tracer` command (``app``): parsing, wiring, and showing. Everything below this package is
importable and never prints."""
