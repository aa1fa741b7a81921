"""The structure's measure (scripts/imports.py, imports read from the code) stays at its targets: one
import circle, the variant registry's plugin idiom (``registry.get`` imports ``reflect.variants``, whose
modules register themselves), and at most 5 imports from a lower layer to a higher one (today: that
same registry import). docs/ARCHITECTURE.md gives the layer order."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REGISTRY_CIRCLE = {"reflect.registry", "reflect.variants"}
MAX_UPWARD = 5


@functools.cache
def _measure():
    spec = importlib.util.spec_from_file_location(
        "reflect_structure_imports", REPO / "scripts" / "imports.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module, module.measure(REPO)


def test_one_import_circle_the_variant_registry() -> None:
    _, m = _measure()
    assert [set(c) for c in m.package_cycles] == [REGISTRY_CIRCLE], m.package_cycles
    assert m.package_circles == 1
    assert len(m.module_cycles) == 1, m.module_cycles
    (cycle,) = m.module_cycles
    assert set(cycle) >= REGISTRY_CIRCLE and all(
        n in REGISTRY_CIRCLE or n.startswith("reflect.variants.") for n in cycle
    )


def test_at_most_five_upward_imports() -> None:
    _, m = _measure()
    found = [f"{s} -> {t} ({', '.join(i.at for i in imports)})" for (s, t), imports in m.upward.items()]
    assert len(found) <= MAX_UPWARD, "imports from a lower layer to a higher one:\n" + "\n".join(found)


def test_every_module_has_a_layer() -> None:
    module, m = _measure()
    for name in m.modules:
        module.layer_of(name)  # raises for a module outside every layer


def test_the_reader_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    module, _ = _measure()
    pkg = tmp_path / "reflect"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from reflect import b\n"
    )
    (pkg / "b.py").write_text("def f():\n    from .sub import c\n")
    (pkg / "sub" / "c.py").write_text("from reflect.a import x\n")
    _, imports = module.read_imports(tmp_path)
    assert {(i.source, i.target, i.where) for i in imports} == {
        ("reflect.a", "reflect.b", "typing"),
        ("reflect.b", "reflect.sub.c", "function"),
        ("reflect.sub.c", "reflect.a", "module"),
    }
