"""Where the photographs come from: a curated allow-list per Debian package, and scikit-image's.

Every entry was looked at (Debian 12 "bookworm" versions): only real photographs are listed,
never illustrations, renders or abstract art. Inspected and left out:

- ``gnome-backgrounds`` 43: renders and patterns only (the photos its copyright file still names are gone);
- ``ukui-wallpapers``, ``sway-backgrounds``, ``desktop-base``, ``lomiri-wallpapers`` (warty),
  ``debian-edu-artwork-*``, ``fvwm-crystal``, ``lxde-common``: illustrations;
- ``mate-backgrounds`` ``abstract/`` and ``desktop/``, the other Plasma wallpapers, Lomiri's
  ``umang``, ``analogpattern``, ``Fossa``, ``Infinite-Sea``, ``Painting-Colors``: illustrations or
  processed past a photograph;
- ``stellarium-data`` (246 MB): its landscapes are real but come as 256-1024 px panorama tiles with
  the sky cut out (transparent);
- ``opencv-doc``: sample photos without per-file provenance, several with faces;
- ``digikam-data``: one photo without a stated licence; ``blender-data``: 8 small HDR (EXR)
  panoramas; ``gcompris-qt-data``: photos packed inside Qt resource bundles;
- ``kstars-data``, ``gimp-data``, ``libreoffice-common``, ``hugin-data``: screenshots and textures;
- ``scribus-template``'s other images: layouts, small or black-and-white copies, a second moon.

``DEBIAN_SOURCES`` is a plain dict so that tests can add a package to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SKIMAGE_PACKAGE = "scikit-image"


@dataclass(frozen=True)
class DebianSource:
    """The photographs of one package.

    ``files``: paths inside the package, fnmatch patterns allowed (``usr/share/x/nature/*.jpg``).
    ``name_from_dir``: 0 names the cached file after the photo's stem; k after its k-th parent folder
    (KDE wallpapers are ``NAME/contents/images/2560x1600.jpg``: 3).
    ``kde_metadata``: read the author and the upstream licence from each wallpaper's ``metadata.json``.
    ``upstream_licence``: a licence the package ships beside the photos, more specific than its
    Debian copyright file (recorded beside, never instead of, the Debian licence).
    ``authors``: photo stem -> author, where only an upstream credits file names them.
    ``prose_licence`` / ``prose_copyright``: what a copyright file that is not machine-readable says,
    in words, of these photos (read by a person when the entry was added).
    """

    package: str
    files: tuple[str, ...]
    name_from_dir: int = 0
    kde_metadata: bool = False
    upstream_licence: str = ""
    authors: Mapping[str, str] = field(default_factory=dict)
    prose_licence: str = ""
    prose_copyright: str = ""


def _kde(*names: str) -> tuple[str, ...]:
    return tuple(f"usr/share/wallpapers/{n}/contents/images/2560x1600.jpg" for n in names)


def _lomiri(*names: str) -> tuple[str, ...]:
    return tuple(f"usr/share/backgrounds/{n}.jpg" for n in names)


_LXQT = "usr/share/lxqt/wallpapers/"
_STEFONARCH = "stefonarch (standreas@riseup.net)"

DEBIAN_SOURCES: dict[str, DebianSource] = {
    s.package: s
    for s in (
        # flowers, leaves, grass, water drops, a dune, a storm over a road, wood (12)
        DebianSource("mate-backgrounds", ("usr/share/backgrounds/mate/nature/*.jpg",)),
        # a jetty, lake at dusk and in fog, rowing boats, a leaf, a facade, a kite in the sky, moss,
        # a forest path, party cups (11)
        DebianSource(
            "plasma-workspace-wallpapers",
            _kde(
                "BytheWater",
                "ColdRipple",
                "ColorfulCups",
                "DarkestHour",
                "EveningGlow",
                "FallenLeaf",
                "Grey",
                "Kite",
                "OneStandsOut",
                "Path",
                "summer_1am",
            ),
            name_from_dir=3,
            kde_metadata=True,
        ),
        # a bridge over tidal flats, mountains, a creek, a sunset, a dog at a door, a living room,
        # a lamp, a wall clock, a fig, brushes, a dragonfly, dandelions (13)
        DebianSource(
            "lomiri-wallpapers-16.04",
            _lomiri(
                "Bridge_by_Sander_Klootwijk",
                "Dragonfly_by_Bolly",
                "Picture_0B_by_freespace",
                "Picture_1A_by_freespace",
                "Wine_by_Jakkub_Mede",
                "aitzgorri_by_Aitzol_Berasategi",
                "free_by_Peter_Nerlich",
                "friends_by_Aitzol_Berasategi",
                "greentock_by_Peter_Nerlich",
                "life_by_Aitzol_Berasategi",
                "picosdeeuropa_by_Aitzol_Berasategi",
                "seeding_by_Clements_Engelhardt",
                "sunset_by_Aitzol_Berasategi",
            ),
        ),
        # a nuthatch on a tree trunk (1)
        DebianSource("lomiri-wallpapers-20.04", _lomiri("Kleiber_by_Lukas_Baubkus")),
        # clouds, mountains, fog over a field, hills, butterflies, flowers, a water drop (11)
        DebianSource(
            "lxqt-themes",
            tuple(
                _LXQT + n
                for n in (
                    "Butterfly-Kenneth-Wimer.jpg",
                    "Valendas.png",
                    "after-the-rain.jpg",
                    "appleflower.png",
                    "beam.png",
                    "butterfly.png",
                    "cloud.png",
                    "drop.png",
                    "flowers.png",
                    "fog.jpg",
                    "this-is-not-windows.jpg",
                )
            ),
            upstream_licence=f"CC-BY-SA-3.0 ({_LXQT}License)",
            authors={
                "Butterfly-Kenneth-Wimer": "Kenneth Wimer",
                **{
                    n: _STEFONARCH
                    for n in (
                        "beam",
                        "flowers",
                        "butterfly",
                        "fog",
                        "this-is-not-windows",
                        "appleflower",
                        "after-the-rain",
                        "drop",
                    )
                },
            },
        ),
        # a city skyline at sunset over water, a canyon creek, the moon behind branches, a pizza (4)
        DebianSource(
            "scribus-template",
            tuple(
                f"usr/share/scribus/templates/{n}"
                for n in ("br2/sunset.jpg", "br2/nature.jpg", "cal2/moon.jpg", "menu2/pizza.jpg")
            ),
            prose_licence="public domain",
            prose_copyright="2004 Riku Leino <tsoots@gmail.com> (templates br2, cal2, menu2: "
            "placed into the public domain by their author)",
        ),
    )
}


@dataclass(frozen=True)
class SkimagePhoto:
    licence: str
    author: str = ""
    note: str = ""


_NOT_STATED = "not stated (scikit-image sample data)"

# scikit-image's bundled photographs (skimage/data), licences as its ``skimage.data`` docstrings give
# them. Left out: astronaut (a face), horse (a silhouette), color.png (a colour wheel), cell, ihc,
# logo, and motorcycle_right (the stereo twin of motorcycle_left, a test photo).
SKIMAGE_PHOTOS: dict[str, SkimagePhoto] = {
    "chelsea.png": SkimagePhoto("CC0-1.0", "Stefan van der Walt"),
    "coffee.png": SkimagePhoto("CC0-1.0", "Rachel Michetti", "courtesy of Pikolo Espresso Bar"),
    "rocket.jpg": SkimagePhoto("public domain", "SpaceX", "DSCOVR launch on Falcon 9, released by SpaceX"),
    "motorcycle_left.png": SkimagePhoto(
        _NOT_STATED, "Middlebury College", "Middlebury 2014 stereo benchmark"
    ),
    "brick.png": SkimagePhoto("CC0-1.0", "", "from CC0Textures (Bricks25)"),
    "grass.png": SkimagePhoto("CC0-1.0", "linolafett", "from DeviantArt"),
    "gravel.png": SkimagePhoto("CC0-1.0", "", "from CC0Textures (Gravel04)"),
    "camera.png": SkimagePhoto("CC0-1.0", "Lav Varshney"),
    "coins.png": SkimagePhoto(
        "no known copyright restrictions", "Brooklyn Museum", "Greek coins from Pompeii"
    ),
    "moon.png": SkimagePhoto(_NOT_STATED),
    "hubble_deep_field.jpg": SkimagePhoto("public domain", "NASA", "Hubble eXtreme Deep Field"),
    "retina.jpg": SkimagePhoto("CC0-1.0", "Mikael Häggström", "Wikimedia Commons"),
    "page.png": SkimagePhoto(_NOT_STATED, "", "a scanned page"),
    "text.png": SkimagePhoto("public domain", "", "Wikipedia File:Corner.png"),
    "clock_motion.png": SkimagePhoto("public domain", "Stefan van der Walt"),
}


def all_sources() -> list[str]:
    """Every source name ``--packages`` accepts, in fetch order."""
    return [*DEBIAN_SOURCES, SKIMAGE_PACKAGE]
