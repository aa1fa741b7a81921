"""A few held-out portraits linked into a temporary folder (so a benchmark loads 3 photos, not 408);
tests that need them skip when ../shared/data/portraits is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from reflect.data.synth.split import identity_split
from reflect.utils.paths import shared_data

PORTRAITS = shared_data("portraits")


@pytest.fixture(scope="session")
def held_out_portraits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not PORTRAITS.is_dir():
        pytest.skip(f"real portraits not available ({PORTRAITS} is missing)")
    folder = tmp_path_factory.mktemp("portraits")
    held_out = [p for p in sorted(PORTRAITS.glob("*.jpg")) if identity_split(p.stem.lower()) == "test"][:3]
    for p in held_out:
        (folder / p.name).symlink_to(p)
    return folder
