"""tracer: a desktop automation agent that plans ahead.

The core is importable without a display; the ``tracer`` command (``tracer_cli.cli.app``) is a thin
layer over it.
"""

__version__ = "0.1.0"
