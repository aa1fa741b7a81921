"""Helpers of ``benchmarks/quality.py``: the fixed held-out test set (:mod:`.render`) and the face
measurements on it (:mod:`.faces`). Like every pipeline, nothing here imports ``reflect.train``."""
