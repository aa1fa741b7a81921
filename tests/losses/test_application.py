"""The application losses (reflect/losses/application.py), judged on the clean output of any variant."""

from __future__ import annotations

import pytest
import torch

from reflect.losses.application import Terms, application_losses


def test_supervised_term_uses_only_paired_samples() -> None:
    from reflect.variants.cyclegan import CycleGAN, CycleGANConfig

    torch.manual_seed(0)
    m = CycleGAN(CycleGANConfig(ngf=8, ndf=8, n_blocks=1, lambda_sup=1.0))
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    batch = {"A": a, "B": b, "A_target": torch.zeros_like(a), "has_target": torch.tensor([False, False])}
    assert m.phase_losses("generator", batch)["supervised"].item() == 0.0
    batch["has_target"] = torch.tensor([True, False])
    sup = m.phase_losses("generator", batch)["supervised"]
    assert sup.item() == pytest.approx(m.translate(a[:1]).abs().mean().item(), rel=1e-5)


def test_face_region_judges_only_the_boxes_of_paired_samples() -> None:
    target = torch.zeros(2, 3, 32, 32)
    box = torch.tensor([[[8.0, 8.0, 24.0, 24.0]], [[8.0, 8.0, 24.0, 24.0]]])  # (B, K=1, 4)
    batch = {
        "A": target,
        "A_target": target,
        "has_target": torch.tensor([True, False]),
        "faces_box": box,
        "faces_n": torch.tensor([1, 1]),
    }
    terms = Terms(face_region="instance_sup")

    def region(clean: torch.Tensor, **changes: object) -> float:
        return float(application_losses(terms, clean, batch | changes, target)["instance_sup"])

    outside = target.clone()
    outside[:, :, :4] = 1.0  # every sample differs above its face only
    assert region(outside) == 0.0
    unpaired = target.clone()
    unpaired[1, :, 12:20, 12:20] = 1.0  # the face of the sample without a target
    assert region(unpaired) == 0.0
    paired = target.clone()
    paired[0, :, 12:20, 12:20] = 1.0
    assert region(paired) > 0.1
    assert region(paired, faces_n=torch.tensor([0, 0])) == 0.0  # no face in the batch
    assert "instance_sup" not in application_losses(Terms(supervised=True), paired, batch, target)
