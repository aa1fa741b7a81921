"""Helpers of ``benchmarks/quality.py``: the fixed held-out test set (:mod:`.render`), the face
measurements on it (:mod:`.faces`), the rows, tables and checks (:mod:`.summary`) and the model under
test (:mod:`.models`). Like every pipeline, nothing here imports ``reflect.train``."""
