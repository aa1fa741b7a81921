"""The ``reflect`` command: the only place that reads ``sys.argv``.

Each subcommand lives in its own module with ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; modules import heavy dependencies inside ``run`` so ``reflect --help`` stays
fast. A :class:`~reflect.errors.ReflectError` is printed as one line and exits with status 2; SIGINT
(130) and SIGTERM (143) stop a command the same way, with one line.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
from typing import Any

from reflect.errors import ReflectError

# name -> module; a module that is not installed is left out of the command list.
COMMANDS: dict[str, str] = {
    "train": "reflect.commands.train",
    "translate": "reflect.commands.translate",
    "evaluate": "reflect.commands.evaluate",
    "synth": "data_tools.commands.synth",
    "dataset": "data_tools.commands.dataset",
    "photos": "data_tools.commands.photos",
    "faces": "reflect.commands.faces",
    "export": "deploy.commands.export",
    "bench": "deploy.commands.bench",
    "clean": "pipelines.commands.clean",
    "stream": "pipelines.commands.stream",
    "demo": "pipelines.commands.demo",
    "adapt": "pipelines.commands.adapt",
}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reflect", description="Remove glass reflections from vehicle-window crops with unpaired GANs."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug information")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        if not _available(module_name):
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        _quiet_others()
    old_term = _sigterm_as_interrupt()
    try:
        return int(args._run(args) or 0)
    except ReflectError as e:
        print(f"reflect {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"reflect {args.command}: terminated (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"reflect {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


#: the packages whose INFO lines a user sees; other libraries' (the ONNX optimiser's 30 lines an export) need -v
OWN_PACKAGES = ("reflect", "pipelines", "deploy", "data_tools", "benchmarks")


def _quiet_others() -> None:
    """Without -v, only reflect's own INFO lines and no library's routine warnings (PIL's on odd EXIF blocks,
    torch's on pickles): what goes wrong with an input is one line of ours."""
    import warnings

    for name in OWN_PACKAGES:
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.INFO)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    warnings.filterwarnings("ignore", message=r".*weights_only.*")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C: the same clean-up (temporary files removed, a job's
    state kept for its resume) runs, then one line."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _sigterm_as_interrupt() -> Any:
    """Make SIGTERM behave as SIGINT for this command (main thread only); returns the handler it replaced."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


if __name__ == "__main__":
    sys.exit(main())
