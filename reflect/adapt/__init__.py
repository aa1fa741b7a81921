"""Site adaptation (``reflect adapt``): the site index, the run's config and trainer, its output files.

The adaptation is an ordinary training run of the ``adapt`` variant (:mod:`reflect.variants.adapt`) on
the site's data (:mod:`reflect.data.site`) by the one trainer; this package only sets it up
(:mod:`reflect.adapt.setup`, :mod:`reflect.adapt.index`) and writes what it leaves
(:mod:`reflect.adapt.trainer`: ``adapted.safetensors``, a plain remover generator file, and
``adapter.safetensors``, the adapters alone).
"""
