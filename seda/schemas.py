"""Finds, compiles and caches the SEDA schemas: the official XSD 1.0 set (lxml) and VITAM's
ingest set (XSD 1.1, which lxml cannot compile, hence xmlschema).

Each schema is compiled once per process: compiling is far slower than validating.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from seda.errors import SchemaError

if TYPE_CHECKING:
    import xmlschema

log = logging.getLogger("versement.seda")

# The SEDA files import these by absolute URL; local copies sit next to each schema set.
_W3C_FILES = {
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/1999/xlink.xsd": "xlink.xsd",
}


def official_path(schema_dir: Path, version: str) -> Path:
    return schema_dir / version / f"seda-{version}-main.xsd"


def vitam_path(schema_dir: Path, version: str) -> Path:
    return schema_dir / version / "vitam-validation" / "seda-vitam-main.xsd"


def missing_reason(main: Path) -> str | None:
    """Why the schema set of `main` cannot be used, or None when its files are all there."""
    needed = [main, *(main.parent / name for name in _W3C_FILES.values())]
    missing = [str(path) for path in needed if not path.is_file()]
    return f"missing {', '.join(missing)}" if missing else None


class _LocalW3C(etree.Resolver):
    """Serves the W3C schemas from the local folder: no catalog variable, no network."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self._folder = folder

    def resolve(self, url: str, pubid: str | None, context: Any) -> Any:
        name = _W3C_FILES.get(url)
        return self.resolve_filename(str(self._folder / name), context) if name else None


@functools.cache
def official_schema(main: Path) -> Any:
    """The compiled lxml XMLSchema for an official `seda-<v>-main.xsd`."""
    started = time.perf_counter()
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_LocalW3C(main.parent))
    try:
        schema = etree.XMLSchema(etree.parse(str(main), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise SchemaError(f"cannot compile {main}: {exc}") from exc
    log.info("compiled %s in %.2f s", main, time.perf_counter() - started)
    return schema


@functools.cache
def vitam_schema(main: Path) -> xmlschema.XMLSchema11:
    """The compiled VITAM ingest schema; "lax" because xmlschema's strict XSD 1.1 mode rejects
    one construct (CustodialHistoryItemType) that Xerces, which VITAM uses, accepts.

    xmlschema is imported here, on use: the streamed path needs it only to explain a refusal,
    and importing it costs a validating process about 17 MB."""
    import xmlschema

    started = time.perf_counter()
    mapping = {url: str(main.parent / name) for url, name in _W3C_FILES.items()}
    try:
        schema = xmlschema.XMLSchema11(str(main), uri_mapper=mapping, allow="local", validation="lax")
    except (xmlschema.XMLSchemaException, etree.XMLSyntaxError, OSError) as exc:
        raise SchemaError(f"cannot compile {main}: {exc}") from exc
    log.info("compiled %s in %.2f s", main, time.perf_counter() - started)
    return schema
