"""``reflect synth``: synthetic windshield datasets on disk.

The rendering core lives in :mod:`reflect.data.synth` (so that training can render on the fly);
this package plans the samples (:mod:`data_tools.synth.layouts`), writes them in parallel
(:mod:`data_tools.synth.run`) and draws contact sheets.
"""
