"""Helpers of ``benchmarks/quality.py`` and ``benchmarks/adapt.py``: the fixed held-out test set
(:mod:`.render`), the face measurements on it (:mod:`.faces`), the rows, tables and checks
(:mod:`.summary`, :mod:`.report`) and the model under test (:mod:`.models`). They run from the
repository (``python benchmarks/quality.py``), not from the installed package."""
