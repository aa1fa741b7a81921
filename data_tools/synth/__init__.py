"""Windshield reflection synthesis: cabin layer T, reflection layer R, glass and camera model.

See :mod:`data_tools.synth.generator` for the order of the model and
:mod:`data_tools.synth.layouts` for what lands on disk.
"""
