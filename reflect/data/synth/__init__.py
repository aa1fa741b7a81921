"""Windshield reflection synthesis (the rendering core): cabin layer T, reflection layer R, glass and
camera model. :mod:`reflect.data.synth.generator` gives the order of the model.

It lives in the library so that ``reflect train`` can render training pairs on the fly
(``data.kind: synthetic``); :mod:`data_tools.synth` keeps the ``reflect synth`` command and the
dataset writers (layouts, contact sheets).
"""
