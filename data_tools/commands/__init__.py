"""``reflect synth`` and ``reflect dataset``: command modules for reflect/cli.py."""
