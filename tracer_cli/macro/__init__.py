"""Macros: the file format and its loading (``load``), running (``run``), writing (``write``),
recording the user's input (``record``, with ``recorded``: what the events amount to) and
exporting an agent run (``export``)."""
