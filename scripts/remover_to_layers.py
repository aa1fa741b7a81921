"""Convert a ``correction``-form remover generator file to the ``layers`` output form (a warm start).

    .venv/bin/python scripts/remover_to_layers.py IN.safetensors OUT.safetensors

The reflection head starts as the negated correction and the gain and detail terms at their
neutral values (:func:`reflect.nn.unet.layers_from_correction`); train it on (``train.init_from``)
before use: it is a starting point, not an equivalent model.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str]) -> int:
    from reflect import registry
    from reflect.generator_file import load_generator, save_generator
    from reflect.nn.unet import layers_from_correction

    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    old, cfg = load_generator(argv[0])
    if old.name != "remover" or getattr(cfg.model, "output", "correction") != "correction":
        print(f"{argv[0]}: not a correction-form remover", file=sys.stderr)
        return 2
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, output="layers"))
    new = registry.get("remover")(cfg.model)
    new.g.load_state_dict(layers_from_correction(old.g.state_dict()))
    save_generator(new, cfg, argv[1])
    print(f"wrote {argv[1]} (layers form, from {argv[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
