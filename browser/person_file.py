"""A person's file as the browser shows and exports it: the index's pieces with their rows read,
the columns the reader's role may see, and the lineage of each piece to its batch and VITAM unit.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from browser import data, manifest
from browser.persons import MAX_PIECE_ROWS, PersonFile, Piece, read_rows
from browser.vitam import NOT_ARCHIVED_FR, NOT_CONFIGURED_FR, VitamReader, VitamUnavailable, not_found_fr, operations
from versement.ledger import Batch, Ledger
from versement.packaging import dictionary_key, person_file_key, table_key
from vitam_client import VitamNotFound

Chains = tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]  # manifest.unit_chains


class _Units:
    """The unit chains of each SIP (by object file name and by unit key), read once per SIP digest."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Chains] = {}
        self._lock = threading.Lock()

    def of(self, batch: Batch, vitam: VitamReader | None = None) -> Chains:
        """The chains of the batch's SIP; of VITAM's stored copy of its manifest when the SIP was
        purged (``vitam`` given), so that a purged piece still links to its unit."""
        if not batch.sip_path:
            return {}, {}
        key = (batch.sip_path, batch.sip_sha256 or "")
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            try:
                found = manifest.unit_chains(_manifest_of(batch, vitam))
            except (manifest.ManifestUnreadable, VitamUnavailable, VitamNotFound):
                return {}, {}  # not cached: VITAM may answer next time
            with self._lock:
                if len(self._cache) > 512:
                    self._cache.clear()
                self._cache[key] = found
        return found


UNITS = _Units()


def _manifest_of(batch: Batch, vitam: VitamReader | None) -> bytes:
    local = Path(str(batch.sip_path))
    if vitam is None or local.is_file() or not operations(batch):
        return manifest.read_manifest(local)
    return manifest.read_file(vitam.manifest(batch)[0])


def piece_chain(chains: Chains, batch: Batch, dataset: Any, identity: Any) -> tuple[str, ...]:
    """The unit where the SIP put a piece's rows, and its ancestors: the dataset's CSV Item (a
    ``tables`` Series); for a dataset cut per group and session, the unit holding its groups
    (the person's rows may be in several); else the person's own File, which holds their
    documents (a ``persons`` Series). Units are found by the keys packaging gives them, or
    failing a key by the object's file name. Empty: not packaged."""
    by_file, by_key = chains
    tool = str((batch.spec or {}).get("tool") or batch.source)
    table = table_key(tool, dataset.name, batch.scope)
    found = by_key.get(table) or by_file.get(f"{dataset.name}.csv")
    if found:
        return found
    # A table's data dictionary without the table's CSV Item: the dataset is cut per group.
    dictionary = by_key.get(dictionary_key(table))
    if dictionary and len(dictionary) > 1:
        return dictionary[1:]
    if identity.source == batch.source:
        person = by_key.get(person_file_key(tool, identity.kind, str(identity.value)))
        if person:
            return person
    return _person_file_chain(by_file, str(identity.value))


def _person_file_chain(units: dict[str, tuple[str, ...]], person: str) -> tuple[str, ...]:
    """The person's own File and its ancestors, for a piece packaged in the person's documents
    named after the person (``<person>-<slice>.json``) in a manifest without unit keys."""
    prefix = f"{person}-"
    for name in sorted(units):
        if name.startswith(prefix) and name.endswith(".json") and len(units[name]) > 1:
            return units[name][1:]
    return ()


def batches(ledger: Ledger, ids: Iterable[int]) -> dict[int, Batch]:
    """The batches (with their datasets) of a file, in one query."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with ledger.reading() as session:
        found = session.scalars(
            select(Batch).where(Batch.id.in_(wanted)).options(selectinload(Batch.datasets), selectinload(Batch.sips))
        )
        result = {b.id: b for b in found}
        for batch in result.values():
            session.expunge(batch)
        return result


def assemble(
    ledger: Ledger,
    file: PersonFile,
    may_see_sensitive: bool,
    indexed: Any,
    vitam: VitamReader | None = None,
) -> PersonFile:
    """The file's pieces with their rows (visible columns only), state and VITAM unit; a piece
    whose local file is purged is read from VITAM through ``vitam`` (``from_vitam`` says which
    units were read, for the audit trail)."""
    known = batches(ledger, (p.batch_id for p in file.pieces))
    pieces = []
    for piece in file.pieces:
        batch = known.get(piece.batch_id)
        dataset = next((d for d in batch.datasets if d.id == piece.dataset_id), None) if batch else None
        if batch is None or dataset is None:
            pieces.append(replace(piece, problem="ce lot n'est plus dans le registre"))
            continue
        chain = piece_chain(UNITS.of(batch, vitam), batch, dataset, piece.identity)
        system_ids = (batch.atr or {}).get("units") or {}
        system_id = next((system_ids[u] for u in chain if u in system_ids), None)
        piece = replace(piece, batch_state=batch.state, unit_id=chain[0] if chain else None, system_id=system_id)
        path = Path(piece.path)
        try:
            stat = path.stat()
        except OSError:
            pieces.append(_from_vitam(piece, batch, dataset, may_see_sensitive, vitam))
            continue
        if indexed(piece.dataset_id) != (stat.st_size, stat.st_mtime_ns):
            pieces.append(
                replace(piece, problem="le fichier local a changé depuis son indexation ; réindexation en cours")
            )
            continue
        pieces.append(_with_rows(piece, path, dataset.spec, may_see_sensitive))
    file.pieces = pieces
    return file


def _from_vitam(piece: Piece, batch: Batch, dataset: Any, may_see_sensitive: bool, vitam: VitamReader | None) -> Piece:
    """The piece read back from VITAM: the person's File first, else the dataset's CSV Item."""
    if vitam is None:
        return replace(piece, problem=NOT_CONFIGURED_FR)
    if not operations(batch):
        return replace(piece, problem=NOT_ARCHIVED_FR)
    tool = str((batch.spec or {}).get("tool") or batch.source)
    identity = piece.identity
    try:
        try:
            if identity.source != batch.source:
                raise VitamNotFound("a cross-reference row: only in the table", http_code=200)
            fetched = vitam.person_rows(
                batch,
                dataset,
                tool=tool,
                kind=identity.kind,
                person=identity.value,
                may_see_sensitive=may_see_sensitive,
                limit=MAX_PIECE_ROWS,
            )
        except VitamNotFound:
            path, units, operation, _ = vitam.table(batch, dataset, tool=tool)
            by_key = not vitam.in_extraction_order(path)  # group Items: the row locator no longer applies
            read = _with_rows(piece, path, dataset.spec, may_see_sensitive, by_key=by_key)
            return replace(read, from_vitam=units, vitam_operation=operation)
    except VitamUnavailable as exc:
        return replace(piece, problem=str(exc))
    except VitamNotFound:
        return replace(piece, problem=not_found_fr(operations(batch)[0]))
    return replace(
        piece,
        columns=fetched.columns,
        hidden=fetched.hidden,
        rows=fetched.rows,
        truncated=fetched.truncated,
        from_vitam=fetched.units,
        vitam_operation=fetched.operation,
    )


def _with_rows(piece: Piece, path: Path, spec: Any, may_see_sensitive: bool, *, by_key: bool = False) -> Piece:
    """The piece's rows read from a Parquet file by the row locator, checked against the person
    key; ``by_key``: the file is not in the extraction's order (a dataset read back from its group
    Items), the rows are those whose person key is the person's."""
    columns = data.schema(path, spec)
    shown, hidden = data.visible_columns(columns, may_see_sensitive)
    key = _key_column(spec, columns)
    names = [c.name for c in shown]
    read = names if key is None or key in names else [*names, key]
    if by_key:
        if key is None:
            return replace(piece, problem="pièce relue dans VITAM sans colonne de personne : lignes introuvables")
        rows, truncated = _rows_of_person(path, key, {piece.identity.value, piece.identity.dossier or ""}, read)
    else:
        rows, truncated = read_rows(str(path), piece.row_ranges, read)
    if key is not None:
        position = read.index(key)
        expected = {piece.identity.value, piece.identity.dossier or ""}
        if any(_text(row[position]) not in expected for row in rows):
            return replace(piece, problem="le fichier ne correspond plus à l'index ; réindexation en cours")
        rows = [row[: len(names)] for row in rows]
    return replace(piece, columns=shown, hidden=hidden, rows=tuple(rows), truncated=truncated)


def _rows_of_person(path: Path, key: str, expected: set[str], columns: list[str]) -> tuple[list[tuple[Any, ...]], bool]:
    """The rows of a text-column Parquet copy whose ``key`` is one of ``expected`` (at most
    MAX_PIECE_ROWS; flag: there were more)."""
    wanted = sorted(v for v in expected if v)
    found: list[tuple[Any, ...]] = []
    parquet = pq.ParquetFile(path)
    for chunk in parquet.iter_batches(columns=columns, batch_size=65_536):
        matching = chunk.filter(pc.is_in(chunk.column(columns.index(key)), value_set=pa.array(wanted, pa.string())))
        found.extend(zip(*(matching.column(i).to_pylist() for i in range(len(columns))), strict=True))
        if len(found) > MAX_PIECE_ROWS:
            return found[:MAX_PIECE_ROWS], True
    return found, False


def _key_column(spec: Any, columns: Iterable[data.Column]) -> str | None:
    present = {c.name for c in columns}
    spec = spec or {}
    if spec.get("person_key") in present:
        return str(spec["person_key"])
    for name, column in (spec.get("columns") or {}).items():
        if "cross_link" in (column or {}).get("tags", ()) and name in present:
            return str(name)
    return None


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def summary(file: PersonFile) -> dict[str, Any]:
    """What the audit trail records of a consultation or an export of the file."""
    return {
        "person": file.identity.key,
        "identities": [i.key for i in file.identities],
        "pieces": [
            {
                "batch": p.batch_id,
                "dataset": p.dataset,
                "rows": len(p.rows),
                "hidden": [c.name for c in p.hidden],
                **({"vitam_units": list(p.from_vitam)} if p.from_vitam else {}),
            }
            for p in file.pieces
        ],
    }


# -- exports -------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = _text(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(file: PersonFile) -> bytes:
    """One line per value: which identity, batch, dataset, VITAM unit, row, column and value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "personne",
            "outil",
            "lot",
            "periode",
            "jeu_de_donnees",
            "unite_vitam",
            "ligne",
            "colonne",
            "libelle",
            "valeur",
        ]
    )
    for piece in file.pieces:
        if piece.problem:
            writer.writerow(
                [
                    piece.identity.key,
                    piece.source,
                    piece.batch_id,
                    piece.scope,
                    piece.dataset,
                    piece.system_id or "",
                    "",
                    "",
                    "pièce non lue",
                    _cell(piece.problem),
                ]
            )
            continue
        for number, row in enumerate(piece.rows, start=1):
            for column, value in zip(piece.columns, row, strict=True):
                writer.writerow(
                    [
                        piece.identity.key,
                        piece.source,
                        piece.batch_id,
                        piece.scope,
                        piece.dataset,
                        piece.system_id or "",
                        number,
                        column.name,
                        _cell(column.label),
                        _cell(value),
                    ]
                )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_pdf(file: PersonFile, reader: str, at: str) -> bytes:
    """The file as a PDF (fpdf2): identity, links, then each piece as label: value lines."""
    from browser.pdf import PersonPdf

    document = PersonPdf(reader, at)
    identity = file.identity
    document.heading(f"Dossier de {identity.surname or '?'} {identity.first_name or ''}".strip())
    for other in file.identities:
        document.line(
            f"{other.source} ({other.kind_fr}) {other.value} — né(e) le {other.birth or '?'} ; "
            f"n° étudiant {other.student_number or '—'} ; INE {other.ine or '—'} ; "
            f"dossier Harpège {other.dossier or '—'}"
        )
    for link in file.links:
        document.line(f"Lien {link.a.key} ↔ {link.b.key} : {link.basis_fr}")
    for piece in file.pieces:
        document.subheading(f"{piece.label} — {piece.source} {piece.scope} (lot n° {piece.batch_id})")
        document.line(f"Unité VITAM : {piece.system_id or piece.unit_id or 'non archivée'}", muted=True)
        if piece.problem:
            document.line(piece.problem)
            continue
        if piece.hidden:
            hidden = len(piece.hidden)
            document.line(f"{hidden} colonne(s) de données sensibles masquée(s) pour votre rôle.", muted=True)
        for number, row in enumerate(piece.rows, start=1):
            document.line(f"Ligne {number}", bold=True)
            for column, value in zip(piece.columns, row, strict=True):
                if value is not None and value != "":
                    document.line(f"{column.label or column.name} ({column.name}) : {_text(value)}")
    return document.output()
