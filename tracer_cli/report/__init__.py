"""The run report: one self-contained HTML file (no network: styles, script and screenshots are
inside it) made from a run record. ``model`` reads the record, ``render`` writes the page from
``template.html``, ``report.css`` and ``report.js``."""
