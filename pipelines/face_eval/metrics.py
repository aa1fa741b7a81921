"""Face-recognition metrics on unit-length embeddings (cosine similarity scores).

* verification: every (probe, gallery image) pair is genuine (same identity) or impostor; the ROC
  gives TAR at a fixed FAR and the equal error rate (EER). A FAR below 1 / (number of impostor
  pairs) cannot be measured and is reported as ``None``;
* identification (closed set): each probe ranks the gallery identities by their best match;
  rank-k accuracy is the fraction whose true identity is among the top k;
* identity similarity: a probe's mean cosine similarity to the clean gallery images of its identity.
"""

from __future__ import annotations

import numpy as np


def roc_curve(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(far, tar, thresholds), thresholds descending; accept when score >= threshold."""
    scores = np.concatenate([genuine, impostor])
    labels = np.concatenate([np.ones(len(genuine)), np.zeros(len(impostor))])
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tp, fp = np.cumsum(y)[last], np.cumsum(1 - y)[last]
    tar = np.r_[0.0, tp / max(len(genuine), 1)]
    far = np.r_[0.0, fp / max(len(impostor), 1)]
    return far, tar, np.r_[np.inf, s[last]]


def tar_at_far(far: np.ndarray, tar: np.ndarray, target: float, n_impostor: int) -> float | None:
    if n_impostor == 0 or target < 1.0 / n_impostor:
        return None
    ok = far <= target + 1e-12
    return float(tar[ok].max()) if ok.any() else 0.0


def eer(far: np.ndarray, tar: np.ndarray) -> float:
    """Equal error rate: where the false-accept rate equals the false-reject rate (interpolated)."""
    frr = 1.0 - tar
    diff = far - frr
    i = int(np.argmax(diff >= 0)) if (diff >= 0).any() else len(diff) - 1
    if i == 0:
        return float(far[0])
    d0, d1 = diff[i - 1], diff[i]
    t = d0 / (d0 - d1) if d1 != d0 else 0.0
    return float(far[i - 1] + t * (far[i] - far[i - 1]))


def rank_k(
    sim: np.ndarray, probe_ids: list[str], gallery_ids: list[str], ks: tuple[int, ...] = (1, 5)
) -> dict[int, float]:
    """Closed-set identification from a (probes, gallery) similarity matrix."""
    identities = sorted(set(gallery_ids))
    cols = {name: [j for j, g in enumerate(gallery_ids) if g == name] for name in identities}
    best = np.stack([sim[:, cols[name]].max(axis=1) for name in identities], axis=1)  # (P, identities)
    order = np.argsort(-best, axis=1, kind="stable")
    ranks = []
    for i, pid in enumerate(probe_ids):
        if pid not in cols:
            ranks.append(len(identities) + 1)
            continue
        ranks.append(int(np.nonzero(order[i] == identities.index(pid))[0][0]) + 1)
    r = np.asarray(ranks)
    return {k: float((r <= k).mean()) if len(r) else 0.0 for k in ks}


def evaluate_set(
    probe_emb: np.ndarray,
    probe_ids: list[str],
    found: list[bool],
    gallery_emb: np.ndarray,
    gallery_ids: list[str],
) -> dict[str, object]:
    """All metrics of one probe set against the gallery; also the ROC curve for plotting."""
    sim = probe_emb @ gallery_emb.T  # (P, G)
    same = np.array([[p == g for g in gallery_ids] for p in probe_ids], bool)
    genuine, impostor = sim[same], sim[~same]
    far, tar, _ = roc_curve(genuine, impostor)
    identity_sim = [float(sim[i, same[i]].mean()) if same[i].any() else None for i in range(len(probe_ids))]
    known = [v for v in identity_sim if v is not None]
    ranks = rank_k(sim, probe_ids, gallery_ids)
    return {
        "probes": len(probe_ids),
        "detection_rate": float(np.mean(found)) if found else 0.0,
        "identity_similarity": float(np.mean(known)) if known else None,
        "per_probe_similarity": identity_sim,
        "tar_at_far": {f"{f:g}": tar_at_far(far, tar, f, len(impostor)) for f in (1e-1, 1e-2, 1e-3)},
        "eer": eer(far, tar) if len(genuine) and len(impostor) else None,
        "rank1": ranks[1],
        "rank5": ranks[5],
        "genuine_pairs": int(len(genuine)),
        "impostor_pairs": int(len(impostor)),
        "roc": {"far": far.tolist(), "tar": tar.tolist()},
    }
