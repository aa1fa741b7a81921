"""The site-adaptation leaderboard of ``benchmarks/adapt.py``: its table and issue 24's checks."""

from __future__ import annotations

from typing import Any

GAIN_DB, GAIN_CLOSER, FORGET_DB = 1.5, 0.10, 0.5  # issue 24's must-show thresholds


def table(result: dict[str, Any], in_training: tuple[str, ...] = ()) -> str:
    """The leaderboard: one line per (site, model), with the gains over the base and the checks."""
    from benchmarks.quality_lib.summary import num

    head = (
        "site",
        "model",
        "n",
        "face PSNR in/out",
        "HOG % out",
        "MTCNN % out",
        "landmarks out",
        "dist out",
        "closer %",
        "rank-1 % out",
        "held-out face PSNR",
        "minutes",
        "check",
    )
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for site, entry in result["sites"].items():
        for name, m in entry["models"].items():
            r = m["row"]
            check = "" if name == "base" else m["check"]
            pct = [
                ("-" if r[k] is None else f"{100 * r[k]:.0f}")
                for k in ("hog_out", "mtcnn_out", "closer", "rank1_out")
            ]
            lines.append(
                " | ".join(
                    [
                        f"{site} (in training)" if site in in_training else site,
                        name,
                        str(r["n"]),
                        f"{num(r['fpsnr_in'])} / {num(r['fpsnr_out'])}",
                        pct[0],
                        pct[1],
                        num(r["lm_out"], ".3f"),
                        num(r["dist_out"], ".3f"),
                        pct[2],
                        pct[3],
                        num(m["held_out_fpsnr"]),
                        num(m.get("minutes"), ".1f"),
                        check,
                    ]
                )
            )
    return "\n".join(lines)


def check(base: dict[str, Any], m: dict[str, Any]) -> str:
    """PASS/FAIL of issue 24's thresholds against the base (n/a where a figure is missing)."""
    b, a = base["row"], m["row"]
    if None in (b["fpsnr_out"], a["fpsnr_out"], b["closer"], a["closer"]):
        return "n/a"
    ok = a["fpsnr_out"] - b["fpsnr_out"] >= GAIN_DB and a["closer"] - b["closer"] >= GAIN_CLOSER
    if base["held_out_fpsnr"] is not None and m["held_out_fpsnr"] is not None:
        ok = ok and base["held_out_fpsnr"] - m["held_out_fpsnr"] <= FORGET_DB
    return "PASS" if ok else "FAIL"
