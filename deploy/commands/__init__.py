"""`reflect export` and `reflect bench`."""
