"""Every variant module is imported here, which registers it (see reflect.registry)."""

from reflect.variants import (
    adapt,  # noqa: F401
    cyclegan,  # noqa: F401
    discogan,  # noqa: F401
    drit,  # noqa: F401
    dunit,  # noqa: F401
    nicegan,  # noqa: F401
    pggan,  # noqa: F401
    remover,  # noqa: F401
    stargan,  # noqa: F401
    unit,  # noqa: F401
)
