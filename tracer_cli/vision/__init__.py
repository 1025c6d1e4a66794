"""Reading the screen without a model: text (``ocr``) and pictures (``imagefind``)."""
