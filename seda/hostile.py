"""Refuses manifests that carry a DTD, entity declarations or external references.

A SEDA manifest needs none of these, and they are how XML attacks arrive: an external entity
reads a local file or calls a server (XXE), nested internal entities expand to gigabytes
(billion laughs), an XInclude pulls in another document. The parser used before this check
(see ``hardened_parser``) loads no DTD, expands no entity, opens no network connection and keeps
libxml2's size limits, so parsing such a document is harmless; this module then names what was
found, so the manifest is refused as hostile instead of failing later in a schema check.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from seda.report import Issue

CHECK = "xml-safety"
_XINCLUDE = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")
_MAX_NAMED = 5
# What may come before a DOCTYPE: the XML declaration, comments, processing instructions, blanks.
_PROLOG_DOCTYPE = re.compile(rb"\A(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE", re.DOTALL)
HEAD_BYTES = 1 << 20  # enough for any prolog a manifest has


def doctype_line(head: bytes) -> int | None:
    """The line of a DOCTYPE in the prolog of a document starting with `head`, or None."""
    found = _PROLOG_DOCTYPE.match(head)
    return head.count(b"\n", 0, found.end()) + 1 if found else None


def refused_unparsable(line: int, reason: str) -> Issue:
    """A DOCTYPE whose content the parser refused to go through (e.g. its entity-expansion limit)."""
    return Issue(
        CHECK,
        f"manifest declares a DTD: refused, a SEDA manifest needs none and DTDs carry XXE and "
        f"entity-expansion attacks (billion laughs); the parser stopped on it without expanding it: {reason}",
        line,
    )


def hardened_parser() -> Any:
    """No DTD loading, no entity substitution, no network, libxml2's size limits kept."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
    )


def hostile_issues(tree: Any, raw: bytes | None) -> list[Issue]:
    """One issue per kind of dangerous construct in a parsed document (none expanded or fetched).

    ``raw`` (the document's bytes, when at hand) lets the DOCTYPE issue carry its line.
    """
    issues: list[Issue] = []
    info = tree.docinfo
    dtd = info.internalDTD
    if info.doctype or dtd is not None:
        line = _line_of(raw, b"<!DOCTYPE")
        issues.append(
            Issue(
                CHECK,
                f"manifest declares a DTD ({info.doctype or '<!DOCTYPE>'}): refused, a SEDA manifest needs none "
                "and DTDs carry XXE and entity-expansion attacks",
                line,
            )
        )
        if info.system_url or info.public_id:
            issues.append(
                Issue(
                    CHECK,
                    f"manifest refers to an external DTD {info.system_url or info.public_id!r}: refused, "
                    "it was not fetched",
                    line,
                )
            )
    entities = list(dtd.iterentities()) if dtd is not None else []
    external = [e for e in entities if e.system_url]
    internal = [e for e in entities if not e.system_url]
    if external:
        named = ", ".join(f"{e.name} ({e.system_url!r})" for e in external[:_MAX_NAMED])
        issues.append(
            Issue(
                CHECK,
                f"manifest declares {len(external)} external entit{'y' if len(external) == 1 else 'ies'} "
                f"{named}: refused (XXE), nothing was read",
                _line_of(raw, b"<!ENTITY"),
            )
        )
    if internal:
        named = ", ".join(e.name for e in internal[:_MAX_NAMED])
        issues.append(
            Issue(
                CHECK,
                f"manifest declares {len(internal)} entit{'y' if len(internal) == 1 else 'ies'} {named}: "
                "refused (entity expansion, e.g. billion laughs), none was expanded",
                _line_of(raw, b"<!ENTITY"),
            )
        )
    root = tree.getroot()
    for namespace in _XINCLUDE:
        for include in root.iter(f"{{{namespace}}}include"):
            issues.append(
                Issue(
                    CHECK,
                    f"manifest holds an XInclude of {include.get('href')!r}: refused, it was not followed",
                    include.sourceline,
                )
            )
    return issues


def _line_of(raw: bytes | None, marker: bytes) -> int | None:
    if raw is None:
        return None
    offset = raw.find(marker)
    return raw.count(b"\n", 0, offset) + 1 if offset >= 0 else None
