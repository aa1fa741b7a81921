"""``shared_data``: the one spelling of ``../shared/data`` (beside the checkout)."""

from pathlib import Path

from reflect.utils.paths import shared_data

REPO = Path(__file__).resolve().parents[2]


def test_shared_data_lies_beside_the_checkout() -> None:
    assert (REPO / "reflect").is_dir()
    assert shared_data() == REPO.parent / "shared" / "data"
    assert shared_data("faces", "obama.jpg") == REPO.parent / "shared" / "data" / "faces" / "obama.jpg"
