"""Macros: the file format and its loading (``load``), running (``run``), writing (``write``),
recording from the user's input (``record``) and exporting an agent run (``export``)."""
