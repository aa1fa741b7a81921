"""Variant name -> class. ``@register("cyclegan")`` on a variant class adds it everywhere
(config validation, the CLI, the contract test suite)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from reflect.errors import ConfigError

if TYPE_CHECKING:
    from reflect.variants.base import Variant

_VARIANTS: dict[str, type[Variant]] = {}
V = TypeVar("V", bound="type[Variant]")


def register(name: str) -> Callable[[V], V]:
    """Class decorator: ``@register("cyclegan")`` names the variant and its Config and lists it."""

    def deco(cls: V) -> V:
        if name in _VARIANTS and _VARIANTS[name] is not cls:
            raise ValueError(f"variant '{name}' registered twice")
        cls.name = name
        cls.Config.variant_name = name
        _VARIANTS[name] = cls
        return cls

    return deco


def _load_builtin() -> None:
    import reflect.variants  # noqa: F401  (imports every variant module, which registers it)


def names() -> list[str]:
    _load_builtin()
    return sorted(_VARIANTS)


def get(name: str) -> type[Variant]:
    _load_builtin()
    try:
        return _VARIANTS[name]
    except KeyError:
        raise ConfigError(
            f"unknown variant '{name}'; valid variants: {', '.join(sorted(_VARIANTS))}"
        ) from None
