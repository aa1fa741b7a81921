"""Licences from a package's ``usr/share/doc/PKG/copyright``, per file where it says so.

Machine-readable copyright files (DEP-5) hold ``Files:`` stanzas of patterns relative to the *source*
tree (``nature/Aqua.jpg``, ``16.04/Bridge.jpg``) while the photo lies at its installed path
(``usr/share/backgrounds/mate/nature/Aqua.jpg``). A pattern matches a path when the path ends with
it or when both name the same file; the most specific match wins (a whole path over a file name
over a wildcard over ``*``; among equals, the last stanza, as DEP-5 says). A copyright file that is
not machine-readable gives one licence for the whole package: "see <its path>".
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass


@dataclass(frozen=True)
class Stanza:
    files: tuple[str, ...]
    copyright: str  # holders, one per line in the file, joined by "; "
    licence: str  # the short name on the License: line, e.g. "CC-BY-SA-4.0"


@dataclass(frozen=True)
class Licence:
    licence: str
    copyright: str  # holder(s) where stated, else ""
    source: str  # which stanza said so: "Files: nature/Aqua.jpg", "Files: *" or the file's path


def _paragraphs(text: str) -> list[dict[str, str]]:
    paragraphs: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines() + [""]:
        if not line.strip():
            if fields:
                paragraphs.append(fields)
            fields, key = {}, ""
        elif line[0] in " \t":
            if key:
                fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
    return paragraphs


def parse_copyright(text: str) -> list[Stanza] | None:
    """The ``Files:`` stanzas of a DEP-5 file; ``None`` when the file is not machine-readable."""
    paragraphs = _paragraphs(text)
    if not paragraphs or "format" not in paragraphs[0]:
        return None
    stanzas = []
    for p in paragraphs:
        if "files" in p:
            holders = [
                h.strip() for h in p.get("copyright", "").splitlines() if h.strip() and h.strip() != "."
            ]
            licence = p.get("license", "").splitlines()[0].strip() if p.get("license") else ""
            stanzas.append(
                Stanza(files=tuple(p["files"].split()), copyright="; ".join(holders), licence=licence)
            )
    return stanzas


def _specificity(pattern: str, path: str) -> int:
    """0: no match; 1: ``*``; 2: another wildcard; 3: the same file name; 4: the path ends with the pattern."""
    wild = any(c in pattern for c in "*?[")
    if pattern == "*":
        return 1
    if not wild and (path == pattern or path.endswith("/" + pattern)):
        return 4
    if not wild and posixpath.basename(pattern) == posixpath.basename(path):
        return 3
    if wild and (fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, "*/" + pattern)):
        return 2
    return 0


def licence_for(copyright_text: str | None, path: str, copyright_path: str) -> Licence:
    """The licence of the file at ``path`` (inside the package) as precisely as the copyright file says."""
    if copyright_text is None:
        return Licence("unknown (the package has no copyright file)", "", "")
    stanzas = parse_copyright(copyright_text)
    if stanzas is None:
        return Licence(f"see {copyright_path} (not machine-readable)", "", copyright_path)
    best: tuple[int, Stanza, str] | None = None
    for stanza in stanzas:
        for pattern in stanza.files:
            score = _specificity(pattern, path)
            if score and (best is None or score >= best[0]):
                best = (score, stanza, pattern)
    if best is None:
        return Licence(f"see {copyright_path} (no stanza matches)", "", copyright_path)
    _, stanza, pattern = best
    return Licence(stanza.licence or "unstated", stanza.copyright, f"Files: {pattern}")
