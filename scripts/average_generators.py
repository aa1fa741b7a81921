"""Weight-space ensemble of two generator files of one network (WiSE-FT, Wortsman et al., CVPR 2022).

    .venv/bin/python scripts/average_generators.py A.safetensors B.safetensors ALPHA OUT.safetensors

Writes ``(1 - ALPHA) * A + ALPHA * B`` for every floating-point weight (other tensors from B), with B's
config and metadata plus ``averaged``: what was mixed. Meant for a fine-tuned model B and the model A it
started from: the average keeps much of what fine-tuning gained while keeping A's behaviour where the
fine-tuning drifted (the bundled remover is stage 7 as shipped and the stage-8 weights at 0.5, stage 7 itself
stage 6 and the stage-7 weights at 0.6; see its model card).
Two files of different networks (other tensor names or shapes, another variant) are refused in one line.

B may be A *grown* (``train.init_from`` A with more ``model.n_refine`` / ``model.n_context``): residual
blocks that A lacks start as the identity in the grown network (their output convolution ``c2`` at zero),
so A's value of such a block's ``c2`` is zero, and its input convolution ``c1`` is taken from B: the
average is then exactly B's new residual branches scaled by ALPHA, on the average of the shared weights.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: the tensors of a residual block grown onto a generator (RemovalUNet's refinement and context blocks)
GROWN = re.compile(r"^g\.(ref[123]|ctx)\.\d+\.c[12]\.(weight|bias)$")
USAGE = "usage: average_generators.py A.safetensors B.safetensors ALPHA OUT.safetensors"


def average(a_path: str, b_path: str, alpha: float, out: str) -> Path:
    """Write the average (module docstring); raises :class:`reflect.errors.CheckpointError` on a mismatch."""
    from safetensors.torch import load_file
    from safetensors.torch import save as st_save

    from reflect.errors import CheckpointError
    from reflect.generator_file import read_generator_metadata
    from reflect.utils.atomic import atomic_write_bytes

    meta_a, meta_b = read_generator_metadata(a_path), read_generator_metadata(b_path)
    if meta_a.get("variant") != meta_b.get("variant"):
        raise CheckpointError(
            f"{a_path} holds a '{meta_a.get('variant')}', {b_path} a '{meta_b.get('variant')}'"
        )
    a, b = load_file(a_path), load_file(b_path)
    grown = sorted(b.keys() - a.keys())
    if a.keys() - b.keys() or any(not GROWN.match(k) for k in grown):
        name = sorted((a.keys() - b.keys()) | {k for k in grown if not GROWN.match(k)})[0]
        raise CheckpointError(f"{a_path} and {b_path} are different networks (tensor {name} is in one only)")
    for k in grown:  # a grown block: identity in A (c2 zero), its c1 as B's
        a[k] = b[k] if ".c1." in k else torch.zeros_like(b[k])
    mixed = {}
    for k, vb in b.items():
        va = a[k]
        if va.shape != vb.shape:
            raise CheckpointError(
                f"{a_path} and {b_path} are different networks ({k}: {list(va.shape)} vs {list(vb.shape)})"
            )
        mixed[k] = (
            ((1 - alpha) * va.double() + alpha * vb.double()).to(vb.dtype) if vb.is_floating_point() else vb
        )
    meta = dict(meta_b) | {"averaged": json.dumps({"a": str(a_path), "b": str(b_path), "alpha": alpha})}
    atomic_write_bytes(out, st_save(mixed, metadata=meta))
    return Path(out)


def main(argv: list[str]) -> int:
    from reflect.errors import ReflectError

    if len(argv) != 4:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        alpha = float(argv[2])
    except ValueError:
        alpha = -1.0
    if not 0.0 <= alpha <= 1.0:
        print(f"average_generators: ALPHA must be a number from 0 to 1, not {argv[2]!r}", file=sys.stderr)
        return 2
    try:
        out = average(argv[0], argv[1], alpha, argv[3])
    except ReflectError as e:
        print(f"average_generators: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}: {1 - alpha:g} x {argv[0]} + {alpha:g} x {argv[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
