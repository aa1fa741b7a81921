"""Every command that finds faces for recognition defaults to the same detector (faces detect used MTCNN
while faces eval and clean --detect faces used dlib's HOG): numbers from one command match the other's."""

from __future__ import annotations

import argparse

from reflect.cli import build_parser


def _default(argv: list[str], dest: str = "detector") -> str:
    parser = build_parser()
    args, _ = parser.parse_known_args(argv)
    value = vars(args).get(dest)
    assert isinstance(value, str), argparse.Namespace(**vars(args))
    return value


def test_faces_commands_and_clean_share_the_default_detector() -> None:
    found = {
        "faces detect": _default(["faces", "detect", "x.png"]),
        "faces embed": _default(["faces", "embed", "x.png"]),
        "faces compare": _default(["faces", "compare", "x.png", "y.png"]),
        "faces eval": _default(["faces", "eval", "--gallery", "g", "--probes", "p", "--report", "r"]),
        "clean": _default(["clean", "--input", "i", "--output", "o"]),
    }
    assert set(found.values()) == {"dlib-hog"}, found
