"""Downstream face recognition before and after cleaning (``reflect faces eval``)."""
