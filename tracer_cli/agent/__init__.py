"""The agent: observe -> forecast -> ground -> guard -> act -> verify -> record.

``loop`` runs it; ``planner`` asks a model until its answer is valid; ``profiles/`` prompt each
model family and read its native answers; ``backends/`` are where the model runs; ``grounding``
places clicks; ``speculate`` decides whether the next forecast step may run unasked;
``effects`` and ``risk`` judge steps; ``runlog`` writes a run's record as it goes."""
