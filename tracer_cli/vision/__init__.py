"""Reading the screen without a model: text (``ocr``), pictures (``imagefind``), and the
anchors a macro step finds its place by (``anchors``)."""
