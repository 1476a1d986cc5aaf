"""Reading a batch back from VITAM once its local files are purged (``[retention]``).

A deployment may delete the local copy of a batch VITAM has archived and the browser verified
(``versement purge``). The person index keeps its rows' locators, and the ledger the batch's
VITAM operations; a person's piece is then read from access-external through ``vitam_client``:

- a dataset packaged in a ``persons`` Series: the person's File is the unit of the batch's ingest
  (``#opi``) whose key is ``versement.packaging.person_file_key``; its Items are JSON documents
  holding the person's rows per dataset (``jeux_de_donnees``), downloaded (the protected Item,
  with the sensitive columns, only for a role allowed to see them);
- a dataset packaged in a ``tables`` Series (and the dataset explorer): the Item whose key is
  ``versement.packaging.table_key`` holds the whole table as CSV; it is downloaded once, written
  as a Parquet file of text columns in a temporary cache of this process (never in the staging
  area), and read like the local file, by the same row locator;
- a dataset packaging cut per group and session (``[[series.groups]]``): no such Item, but a
  SubGrp per group (``group_key``) beside its data dictionary Item (``dictionary_key``), each
  holding a CSV Item per session (``session_key``); their CSVs (same columns) are concatenated
  into the cached Parquet, in the manifest's order, so the rows are no longer in the extraction's
  order: a person's piece is then read by its person key, not by the row locator;
- the batch page's manifest summary (unit tree, rules with start dates) and the manifest
  download: the manifest VITAM stored at ingest (ingest-external ``/ingests/{id}/manifests``),
  checked against the SHA-512 packaging recorded, cached in the same temporary folder.

Every read is audited by the caller (``consult.vitam``). VITAM unreachable, or not holding what
the ledger says it received, is a French message on the piece, never an error page.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from browser.data import Column, visible_columns
from browser.manifest import MAX_MANIFEST_BYTES
from versement.ledger import Batch, Dataset, State
from versement.ledger.sips import current_sips
from versement.packaging import (
    dictionary_key,
    is_group_key,
    is_session_key,
    person_file_key,
    protected_item_key,
    table_key,
)
from vitam_client import VitamClient, VitamError, VitamNotFound, VitamTimeout, VitamTransportError

ARCHIVED = (State.ACCEPTED, State.VERIFIED)
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # one person's JSON Item
KEY_FIELD = "OriginatingAgencyArchiveUnitIdentifier"

UNREACHABLE_FR = (
    "fichier local purgé et VITAM injoignable : la pièce n'a pas pu être relue depuis VITAM "
    "(réessayez plus tard ; si cela persiste, prévenez l'administrateur)"
)
NOT_CONFIGURED_FR = "fichier local purgé : la pièce est conservée dans VITAM (lecture depuis VITAM non configurée)"
NOT_ARCHIVED_FR = "fichier local purgé et lot non archivé dans VITAM : la pièce n'est plus lisible"


class VitamUnavailable(Exception):
    """A piece that could not be read back from VITAM; the message is French, for the page."""


@dataclass(frozen=True)
class Fetched:
    """Rows read back from VITAM, with the columns the reader may see and the units read."""

    columns: tuple[Column, ...]
    hidden: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    units: tuple[str, ...]
    operation: str
    truncated: bool = False


class VitamReader:
    """Person pieces and whole datasets of archived batches, from access-external."""

    def __init__(self, connect: Callable[[], VitamClient], cache_entries: int = 256) -> None:
        self._connect = connect
        self._client: VitamClient | None = None
        self._lock = threading.Lock()
        self._documents: OrderedDict[tuple[str, str, bool], tuple[str, list[tuple[str, dict[str, Any]]]]] = (
            OrderedDict()
        )
        self._entries = cache_entries
        self._tables: dict[tuple[int, str, str], tuple[Path, tuple[str, ...], str]] = {}
        self._table_locks: dict[tuple[int, str, str], threading.Lock] = {}
        self._manifest_locks: dict[str, threading.Lock] = {}
        self._regrouped: set[Path] = set()  # copies made from group Items (another row order)
        self._folder = Path(tempfile.mkdtemp(prefix="versement-vitam-cache-"))
        weakref.finalize(self, shutil.rmtree, self._folder, True)

    def close(self) -> None:
        """Close the connections to VITAM (a new client is made on the next read)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- a person's piece ------------------------------------------------------------------------

    def person_rows(
        self,
        batch: Batch,
        dataset: Dataset,
        *,
        tool: str,
        kind: str,
        person: str,
        may_see_sensitive: bool,
        limit: int,
    ) -> Fetched:
        """The rows of ``dataset`` in the person's File of the batch's ingest."""
        key = person_file_key(tool, kind, person)
        for operation in operations(batch):
            file_id, documents = self._person_documents(operation, key, may_see_sensitive)
            if file_id is None:
                continue
            rows = _merged(documents, dataset)
            if rows is None:
                continue  # this dataset is not in the person's File: a table of the batch
            columns = _columns(dataset, rows)
            shown, hidden = visible_columns(columns, may_see_sensitive)
            found = tuple(tuple(row.get(c.name) for c in shown) for row in rows[:limit])
            units = (file_id, *(unit for unit, document in documents if dataset.name in _slices(document)))
            return Fetched(shown, hidden, found, units, operation, truncated=len(rows) > limit)
        raise VitamNotFound(f"no File {key} and no {dataset.name} in its Items", http_code=200)

    def _person_documents(
        self, operation: str, key: str, sensitive: bool
    ) -> tuple[str | None, list[tuple[str, dict[str, Any]]]]:
        cache_key = (operation, key, sensitive)
        with self._lock:
            if cache_key in self._documents:
                self._documents.move_to_end(cache_key)
                file_id, documents = self._documents[cache_key]
                return file_id, documents
        with self._session() as client:
            found = client.units_by_key(operation, key)
            if not found:
                return None, []
            file_id = str(found[0]["#id"])
            documents = []
            protected = protected_item_key(key)
            for child in client.child_units(operation, file_id):
                if not child.get("#object") or (not sensitive and protected in _keys(child)):
                    continue
                buffer = _Capped(MAX_DOCUMENT_BYTES)
                client.download_object(str(child["#id"]), buffer)
                try:
                    document = json.loads(buffer.getvalue())
                except ValueError:
                    continue  # not a person document (another Item of the File)
                if isinstance(document, dict):
                    documents.append((str(child["#id"]), document))
        with self._lock:
            self._documents[cache_key] = (file_id, documents)
            while len(self._documents) > self._entries:
                self._documents.popitem(last=False)
        return file_id, documents

    # -- a whole table -----------------------------------------------------------------------

    def table(self, batch: Batch, dataset: Dataset, *, tool: str) -> tuple[Path, tuple[str, ...], str, bool]:
        """A Parquet copy (text columns) of the dataset's CSV Item, or of its group Items one
        after the other for a dataset packaging cut per group and session, downloaded on first
        use: (path, units read, operation, downloaded now)."""
        cache_key = (batch.id, dataset.name, dataset.sha256)
        with self._lock:
            lock = self._table_locks.setdefault(cache_key, threading.Lock())
        with lock:  # one download per table, the other readers wait for it
            known = self._tables.get(cache_key)
            if known is not None and known[0].is_file():
                return (*known, False)
            key = table_key(tool, dataset.name, batch.scope)
            target = self._folder / f"lot-{batch.id}-{dataset.name}-{dataset.sha256[:16]}.parquet"
            with self._session() as client:
                for operation in operations(batch):
                    found = client.units_by_key(operation, key)
                    if not found:
                        continue
                    units: tuple[str, ...] = (str(found[0]["#id"]),)
                    _csv_to_parquet(client, units, target)
                    self._tables[cache_key] = (target, units, operation)
                    return target, units, operation, True
                units, where = _group_items(client, operations(batch), key)
                if units:
                    _csv_to_parquet(client, units, target)
                    self._regrouped.add(target)
                    self._tables[cache_key] = (target, units, where)
                    return target, units, where, True
            raise VitamNotFound(f"no Item {key} nor groups of it in the batch's ingests", http_code=200)

    # -- the manifest ------------------------------------------------------------------------

    def manifest(self, batch: Batch) -> tuple[Path, str, bool]:
        """The manifest of the batch's SIP (part 1: the SIP the batch's own columns describe) as
        VITAM stored it at ingest (ingest-external ``GET /ingests/{id}/manifests``), downloaded
        on first use into this process's cache: (path, operation, downloaded now). A manifest
        never changes once ingested, so it is read from VITAM once per operation. Checked
        against the SHA-512 the ledger recorded at packaging, when it has one: VITAM's copy
        must be the manifest the archivist approved."""
        found = operations(batch)
        if not found:
            raise VitamUnavailable(NOT_ARCHIVED_FR)
        operation = found[0]
        with self._lock:
            lock = self._manifest_locks.setdefault(operation, threading.Lock())
        with lock:
            target = self._folder / f"manifest-{_safe(operation)}.xml"
            if target.is_file():
                return target, operation, False
            partial = target.with_name(target.name + ".partial")
            try:
                with self._session() as client, _CappedFile(partial, MAX_MANIFEST_BYTES) as out:
                    client.download_manifest(operation, out)
                expected = _recorded_sha512(batch)
                if expected is not None:
                    actual = _sha512_file(partial)
                    if actual != expected.lower():
                        raise VitamUnavailable(
                            f"bordereau renvoyé par VITAM pour l'opération {operation} différent de celui du SIP "
                            f"(SHA-512 {actual[:16]}… au lieu de {expected[:16]}…)"
                        )
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
            return target, operation, True

    def in_extraction_order(self, path: Path) -> bool:
        """Whether a copy made by ``table`` keeps the extracted file's row order (its one CSV
        Item), so the person index's row locators apply; not a copy made from group Items."""
        return path not in self._regrouped

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[VitamClient]:
        """The shared client (httpx's pool is thread-safe), VITAM's errors turned into French."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            client = self._client
        try:
            yield client
        except (VitamTransportError, VitamTimeout) as exc:
            raise VitamUnavailable(UNREACHABLE_FR) from exc
        except VitamNotFound:
            raise
        except VitamError as exc:
            code = f" (code HTTP {exc.http_code})" if exc.http_code else ""
            raise VitamUnavailable(f"fichier local purgé et lecture refusée par VITAM{code}") from exc


def operations(batch: Batch) -> list[str]:
    """The VITAM operations of the batch's current SIPs (one per part), else the batch's own."""
    if State(batch.state) not in ARCHIVED:
        return []
    found = [s.vitam_operation_id for s in current_sips(batch) if s.vitam_operation_id]
    if not found and batch.vitam_operation_id:
        found = [batch.vitam_operation_id]
    return found


def not_found_fr(operation: str | None) -> str:
    where = f" de l'opération {operation}" if operation else ""
    return f"fichier local purgé et pièce introuvable dans VITAM (unités{where} sans cette pièce)"


def _keys(unit: Mapping[str, Any]) -> list[str]:
    value = unit.get(KEY_FIELD)
    return [str(v) for v in value] if isinstance(value, list) else [str(value)] if value else []


def _slices(document: Mapping[str, Any]) -> Mapping[str, Any]:
    slices = document.get("jeux_de_donnees")
    return slices if isinstance(slices, dict) else {}


def _merged(documents: Sequence[tuple[str, Mapping[str, Any]]], dataset: Dataset) -> list[dict[str, Any]] | None:
    """The dataset's rows across the File's documents: the protected Item's sensitive columns
    joined to the ordinary rows on the dataset's key (as packaging split them)."""
    spec = dataset.spec or {}
    keys = [c for c in [*(spec.get("key") or ()), spec.get("person_key")] if c]
    rows: list[dict[str, Any]] = []
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    present = False
    for _unit, document in documents:
        entry = _slices(document).get(dataset.name)
        if not isinstance(entry, dict):
            continue
        present = True
        for line in entry.get("lignes") or ():
            if not isinstance(line, dict):
                continue
            identity = tuple(line.get(k) for k in keys) if keys and all(k in line for k in keys) else None
            if identity is not None and identity in by_key:
                by_key[identity].update(line)
                continue
            row = dict(line)
            rows.append(row)
            if identity is not None:
                by_key[identity] = row
    return rows if present else None


def _columns(dataset: Dataset, rows: Sequence[Mapping[str, Any]]) -> tuple[Column, ...]:
    """The dataset's columns as the ledger recorded them (names, types), labelled by its spec."""
    described = (dataset.spec or {}).get("columns") or {}
    recorded = [(str(c[0]), str(c[1])) for c in (dataset.columns or ()) if isinstance(c, (list, tuple)) and c]
    known = {name for name, _kind in recorded}
    seen: dict[str, None] = {}
    for row in rows:  # a column the documents hold beyond those recorded is shown too, after them
        seen.update(dict.fromkeys(name for name in row if name not in known))
    recorded += [(name, "") for name in seen]
    columns = []
    for name, kind in recorded:
        meta = described.get(name) or {}
        columns.append(Column(name, kind, str(meta.get("label") or ""), tuple(meta.get("tags") or ())))
    return tuple(columns)


def _safe(operation: str) -> str:
    """An operation id as a file name (VITAM's are GUIDs; anything else is escaped)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in operation)[:200] or "_"


def _recorded_sha512(batch: Batch) -> str | None:
    """The SHA-512 of part 1's manifest as packaging recorded it, if it did."""
    parts = current_sips(batch)
    recorded = parts[0].manifest_sha512 if parts else batch.manifest_sha512
    return str(recorded) if recorded and set(str(recorded)) != {"0"} else None


def _sha512_file(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _CappedFile(io.FileIO):
    """A file written by a download that refuses to grow past ``limit`` bytes (a manifest larger
    than the browser reads locally is refused the same way)."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(path, "wb")
        self.limit = limit

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.limit:
            raise VitamUnavailable(f"bordereau de VITAM trop volumineux (plus de {self.limit} octets)")
        return super().write(data)


class _Capped(io.BytesIO):
    """An in-memory download that refuses to grow past ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.limit:
            raise VitamUnavailable(f"pièce de VITAM trop volumineuse (plus de {self.limit} octets)")
        return super().write(data)


def _group_items(client: VitamClient, batch_operations: Sequence[str], table: str) -> tuple[tuple[str, ...], str]:
    """The CSV Items of a grouped dataset, and the operations holding them (", " between two):
    the SubGrps whose keys packaging made from the dataset's ``table_key``, under the unit that
    holds the dataset's data dictionary Item, and their session Items. A batch split into
    several SIPs repeats that unit and the SubGrps (same keys) in each part, so every part is
    read. None if the dataset is not grouped."""
    holder: str | None = None  # the key of the unit above the dictionary (the Series' year)
    for operation in batch_operations:
        dictionary = client.units_by_key(operation, dictionary_key(table))
        if dictionary:
            parents = client.unit(str(dictionary[0]["#id"])).get("#unitups") or []
            keys = _keys(client.unit(str(parents[0]))) if parents else []
            holder = keys[0] if keys else None
            break
    if holder is None:
        return (), ""
    found: list[str] = []
    where: list[str] = []
    for operation in batch_operations:
        before = len(found)
        for parent in client.units_by_key(operation, holder):
            for group in client.child_units(operation, str(parent["#id"])):
                group_keys = [k for k in _keys(group) if is_group_key(table, k)]
                if not group_keys or group.get("#object"):
                    continue
                for child in client.child_units(operation, str(group["#id"])):
                    if child.get("#object") and any(is_session_key(group_keys[0], k) for k in _keys(child)):
                        found.append(str(child["#id"]))
        if len(found) > before:
            where.append(operation)
    return tuple(found), ", ".join(where)


def _csv_to_parquet(client: VitamClient, units: Sequence[str], target: Path) -> None:
    """Download the units' CSVs and write them as one Parquet file (every column text, as the
    CSV holds it), streamed both ways; every CSV must have the first one's columns; the file
    appears whole or not at all."""
    spool = target.with_name(target.name + ".csv")
    partial = target.with_name(target.name + ".partial")
    columns: list[str] | None = None
    writer: pq.ParquetWriter | None = None
    try:
        for unit in units:
            with spool.open("wb") as out:
                client.download_object(unit, out)
            with spool.open("rb") as source:
                header = source.readline().decode("utf-8-sig").strip("\r\n")
            names = pacsv.read_csv(io.BytesIO(header.encode("utf-8") + b"\n")).column_names
            if columns is None:
                columns = names
            elif names != columns:
                raise VitamUnavailable(
                    f"pièce de VITAM incohérente : l'unité {unit} n'a pas les colonnes des autres fichiers "
                    f"du jeu de données ({', '.join(names)} au lieu de {', '.join(columns)})"
                )
            schema = pa.schema([(c, pa.string()) for c in columns])
            writer = writer or pq.ParquetWriter(partial, schema)
            convert = pacsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=True)
            for chunk in pacsv.open_csv(spool, convert_options=convert):
                writer.write_batch(chunk)
        if writer is None:
            raise VitamNotFound("no CSV unit", http_code=200)
        writer.close()
        writer = None
        partial.replace(target)
    finally:
        if writer is not None:
            writer.close()
        spool.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
