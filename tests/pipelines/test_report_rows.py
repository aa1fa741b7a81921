"""The face report's before/after grid shows every identity and says how many probes it leaves out (the
demo showed 12 of its 18 stills, one identity missing, without a word)."""

from __future__ import annotations

from pipelines.report.html import rows_shown


def test_rows_are_taken_in_turn_from_each_identity() -> None:
    ids = ["a"] * 6 + ["b"] * 6 + ["c"] * 6
    shown = rows_shown(ids, 12)
    assert len(shown) == 12 and {ids[i] for i in shown} == {"a", "b", "c"}
    assert [sum(ids[i] == k for i in shown) for k in "abc"] == [4, 4, 4]
    assert shown == sorted(shown)


def test_all_rows_when_they_fit_and_uneven_identities() -> None:
    assert rows_shown(["a", "b", "b"], 12) == [0, 1, 2]
    ids = ["a"] * 10 + ["b"]
    assert sorted(ids[i] for i in rows_shown(ids, 3)) == ["a", "a", "b"]
    assert rows_shown([], 12) == []
