"""Turns a checked SipRequest into the tree of units and the list of objects to write.

The plan fixes every xml id and Uri before a single byte is written, so identifiers are
deterministic (same request, same manifest) and references can be checked up front.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath
from typing import Literal

from seda.checks import check_request
from seda.errors import SipError
from seda.model import Management, Payload, Series, SipRequest

Level = Literal["Fonds", "Series", "Item"]

# VITAM's rule for each Uri path segment (SIP structuration guide).
URI_SEGMENT = re.compile(r"^[a-zA-Z0-9\-_@]+(\.[a-zA-Z0-9\-_@]+)*$")
CONTENT_FOLDER = "content"
_MAX_EXTENSION = 16


@dataclass(frozen=True)
class ObjectPlan:
    object_id: str  # BinaryDataObject/@id
    group_id: str  # DataObjectGroup/@id
    uri: str  # "content/<object_id>.<ext>"
    payload: Payload
    field: str  # where it came from in the request, for error messages


@dataclass(frozen=True)
class UnitPlan:
    unit_id: str
    level: Level
    title: str
    description: str | None
    start_date: date | None
    end_date: date | None
    management: Management | None
    children: tuple[UnitPlan, ...] = ()
    group_id: str | None = None  # the DataObjectGroup an Item unit points to


@dataclass(frozen=True)
class SipPlan:
    request: SipRequest
    root: UnitPlan
    objects: tuple[ObjectPlan, ...]

    @property
    def unit_count(self) -> int:
        return sum(1 for _ in iter_units(self.root))


def plan_sip(request: SipRequest) -> SipPlan:
    """Check `request`, then give every unit, group and object its id and Uri."""
    check_request(request)
    ids = _IdMaker()
    objects: list[ObjectPlan] = []
    root_id = ids.unit()
    series_units = tuple(
        _plan_series(f"series[{index}]", series, ids, objects) for index, series in enumerate(request.series)
    )
    root = UnitPlan(
        unit_id=root_id,
        level="Fonds",
        title=request.fonds_title,
        description=request.fonds_description,
        start_date=None,
        end_date=None,
        management=None,
        children=series_units,
    )
    plan = SipPlan(request=request, root=root, objects=tuple(objects))
    check_plan(plan)
    return plan


def _plan_series(field: str, series: Series, ids: _IdMaker, objects: list[ObjectPlan]) -> UnitPlan:
    unit_id = ids.unit()
    items = tuple(
        _plan_item(f"{field}.payloads[{index}]", payload, ids, objects) for index, payload in enumerate(series.payloads)
    )
    return UnitPlan(
        unit_id=unit_id,
        level="Series",
        title=series.title,
        description=series.description,
        start_date=series.start_date,
        end_date=series.end_date,
        management=series.management,
        children=items,
    )


def _plan_item(field: str, payload: Payload, ids: _IdMaker, objects: list[ObjectPlan]) -> UnitPlan:
    unit_id, group_id, object_id = ids.unit(), ids.group(), ids.object()
    uri = f"{CONTENT_FOLDER}/{object_id}{safe_extension(payload.filename)}"
    objects.append(ObjectPlan(object_id, group_id, uri, payload, field))
    return UnitPlan(
        unit_id=unit_id,
        level="Item",
        title=payload.title,
        description=payload.description,
        start_date=payload.start_date,
        end_date=payload.end_date,
        management=payload.management,
        group_id=group_id,
    )


class _IdMaker:
    """Sequential ids per kind, in document order: AU1.., GOT1.., BDO1.. (all valid NCNames)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def _next(self, prefix: str) -> str:
        self._counts[prefix] += 1
        return f"{prefix}{self._counts[prefix]}"

    def unit(self) -> str:
        return self._next("AU")

    def group(self) -> str:
        return self._next("GOT")

    def object(self) -> str:
        return self._next("BDO")


def safe_extension(filename: str) -> str:
    """The file extension reduced to lowercase ASCII letters and digits ("" when nothing is left).

    Accents are folded ("é" -> "e") and anything else is dropped, so the Uri always satisfies
    VITAM's segment pattern whatever the original name holds.
    """
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix[1:]
    folded = unicodedata.normalize("NFKD", suffix).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9]", "", folded).lower()[:_MAX_EXTENSION]
    return f".{cleaned}" if cleaned else ""


def iter_units(unit: UnitPlan) -> Iterator[UnitPlan]:
    yield unit
    for child in unit.children:
        yield from iter_units(child)


def check_plan(plan: SipPlan) -> None:
    """Ids unique across the document, every reference resolved, every Uri acceptable to VITAM.

    lxml does not check IDREFs, so a bug here would only surface at VITAM ingest.
    """
    units = list(iter_units(plan.root))
    declared = [u.unit_id for u in units]
    declared += [o.group_id for o in plan.objects] + [o.object_id for o in plan.objects]
    duplicates = sorted(name for name, count in Counter(declared).items() if count > 1)
    if duplicates:
        raise SipError(f"internal error: duplicate xml ids {', '.join(duplicates)}")
    groups = {o.group_id for o in plan.objects}
    for unit in units:
        if unit.group_id is not None and unit.group_id not in groups:
            raise SipError(f"internal error: unit {unit.unit_id} points to missing {unit.group_id}")
    for obj in plan.objects:
        if not all(URI_SEGMENT.match(segment) for segment in obj.uri.split("/")):
            raise SipError(f"{obj.field}: generated Uri {obj.uri!r} is not acceptable to VITAM")
    uris = [o.uri for o in plan.objects]
    if len(set(uris)) != len(uris):
        raise SipError("internal error: two objects share one Uri")
