"""An XSD 1.0 schema derived from VITAM's XSD 1.1 ingest schema, for fast streamed validation.

Why: VITAM's ingest schema (``vitam-validation/seda-vitam-main.xsd``) is XSD 1.1 only because
its extension points are ``xsd:any`` wildcards of *any* namespace placed after optional SEDA
elements. XSD 1.0's Unique Particle Attribution rule refuses that (libxml2 reports
SCHEMAP_NOT_DETERMINISTIC), XSD 1.1 allows it and gives an element declaration precedence over
a wildcard. The only pure-Python XSD 1.1 validator, xmlschema, needs about 0.7 ms per unit and
a full tree of the manifest, far too slow and too large for a 100,000-unit SIP.

What: the derived schema is the very same files, read from the configured folder, with one
change: each such wildcard gets ``namespace="##other"`` (any namespace but SEDA's, qualified).
Nothing else is touched; the files on disk are not rewritten (a resolver serves the edited
copies to libxml2 from memory).

Why the verdict can be trusted (``derived accepts ⇒ VITAM accepts``):

- the derived wildcards admit a subset of the elements the original ones admit, and with the
  same ``processContents="lax"``;
- in a document the derived schema accepts, every SEDA-namespace element is matched by an
  element declaration; the original schema, under XSD 1.1 precedence, matches it with the
  same declaration, and every other element by the same lax wildcard;
- so every document the derived schema accepts is accepted by the original one.

The converse does not hold: VITAM's schema lets a SEDA element in a wildcard slot (for
example a Title repeated after EndDate is taken by Content's wildcard). So a document the
derived schema refuses is never called invalid on its word: ``seda.stream_validation`` then
runs VITAM's own schema (xmlschema) for the verdict and its messages. Tests check both
directions on a corpus of valid and invalid manifests (``tests/seda/test_fast_validation.py``).
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Any

from lxml import etree

from seda.errors import SchemaError

log = logging.getLogger("versement.seda")

XSD = "http://www.w3.org/2001/XMLSchema"
_W3C_FILES = {
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/1999/xlink.xsd": "xlink.xsd",
}


def restrict_wildcards(document: Any) -> int:
    """Give every ``xsd:any`` without a namespace the namespace ``##other``; return how many."""
    changed = 0
    for wildcard in document.iter(f"{{{XSD}}}any"):
        if wildcard.get("namespace") in (None, "##any"):
            wildcard.set("namespace", "##other")
            changed += 1
    return changed


class _DerivedFiles(etree.Resolver):
    """Serves the edited schema files of one folder, and the local W3C schemas."""

    def __init__(self, folder: Path, texts: dict[str, bytes]) -> None:
        super().__init__()
        self._folder = folder
        self._texts = texts

    def resolve(self, url: str, pubid: str | None, context: Any) -> Any:
        w3c = _W3C_FILES.get(url)
        if w3c is not None:
            return self.resolve_filename(str(self._folder / w3c), context)
        name = url.replace("\\", "/").rsplit("/", 1)[-1]
        text = self._texts.get(name)
        if text is not None:
            return self.resolve_string(text, context, base_url=str(self._folder / name))
        return None


@functools.cache
def derived_vitam_schema(main: Path) -> Any:
    """The compiled lxml XMLSchema derived from VITAM's ``seda-vitam-main.xsd`` at `main`."""
    started = time.perf_counter()
    folder = main.parent
    texts: dict[str, bytes] = {}
    changed = 0
    plain = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    try:
        for path in sorted(folder.glob("seda-vitam-*.xsd")):
            document = etree.parse(str(path), plain)
            changed += restrict_wildcards(document)
            texts[path.name] = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
        parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
        parser.resolvers.add(_DerivedFiles(folder, texts))
        root = etree.fromstring(texts[main.name], parser, base_url=str(main))
        schema = etree.XMLSchema(etree.ElementTree(root))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError, KeyError) as exc:
        raise SchemaError(f"cannot derive an XSD 1.0 schema from {main}: {exc}") from exc
    log.info("derived %s (%d wildcards restricted) in %.2f s", main, changed, time.perf_counter() - started)
    return schema
