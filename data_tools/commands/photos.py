"""reflect photos fetch [--cache DIR] [--debs DIR] [--packages a,b] [--max-side N] | reflect photos list [--cache DIR]"""

from __future__ import annotations

import argparse

HELP = "real photographs with licences for training and benchmarks: 'reflect photos fetch', 'reflect photos list'"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="photos_command", metavar="ACTION", required=True)
    f = sub.add_parser(
        "fetch",
        help="download the photographs into the cache (idempotent, resumable)",
        description="Photographs from Debian packages (apt-get download, or .deb files in --debs; "
        "nothing is installed) and scikit-image, resized and split into train/test by a hash "
        "of their bytes, with a manifest of their licences. Needed for training and "
        "benchmarks only, never to run a model.",
    )
    f.add_argument("--cache", metavar="DIR", help="cache folder (default: ~/.cache/reflect/photos)")
    f.add_argument("--debs", metavar="DIR", help="folder of downloaded .deb files, used before apt-get")
    f.add_argument("--packages", metavar="A,B", help="sources to fetch (default: all; see --list-sources)")
    f.add_argument(
        "--max-side", type=int, default=1024, help="longer side of the cached photos (default 1024)"
    )
    f.add_argument("--list-sources", action="store_true", help="print the sources and exit")
    ls = sub.add_parser("list", help="photos in the cache per split, package and licence")
    ls.add_argument("--cache", metavar="DIR", help="cache folder (default: ~/.cache/reflect/photos)")


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from data_tools.photos.cache import format_summary, n_photos, read_manifest, summary
    from data_tools.photos.fetch import fetch_photos
    from data_tools.photos.sources import all_sources
    from reflect.errors import ConfigError

    if args.cache:
        cache = Path(args.cache).expanduser()
    else:
        from reflect.data.synthetic import cache_dir

        cache = cache_dir() / "photos"
    if args.photos_command == "list":
        manifest = read_manifest(cache)
        if manifest is None:
            raise ConfigError(f"no photo cache in {cache}: run `reflect photos fetch` first")
        print("\n".join(format_summary(cache, summary(cache, manifest))))
        return 0
    if args.list_sources:
        print("\n".join(all_sources()))
        return 0
    if args.max_side < 64:
        raise ConfigError(f"--max-side must be at least 64, got {args.max_side}")
    names = [n.strip() for n in args.packages.split(",") if n.strip()] if args.packages else all_sources()
    unknown = [n for n in names if n not in all_sources()]
    if unknown:
        raise ConfigError(f"unknown photo source {', '.join(unknown)}; valid: {', '.join(all_sources())}")
    debs = Path(args.debs).expanduser() if args.debs else None
    if debs is not None and not debs.is_dir():
        raise ConfigError(f"--debs {debs} is not a folder")
    start = time.monotonic()
    result = fetch_photos(
        cache,
        names,
        debs=debs,
        max_side=args.max_side,
        warn=lambda line: print(f"warning: {line}", file=sys.stderr),
    )
    manifest = read_manifest(cache)
    assert manifest is not None
    print(f"{n_photos(result.added)} added, {result.kept} already there, in {time.monotonic() - start:.0f} s")
    print("\n".join(format_summary(cache, summary(cache, manifest))))
    print(
        f"the synthesiser's photo folders take cache:train (training) and cache:test (benchmarks); "
        f"licences: {cache / 'manifest.json'}"
    )
    return 0
