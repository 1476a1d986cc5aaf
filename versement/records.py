"""What the ledger keeps of a batch, read back (its scope) and written (a dataset's specification).

Apart from ``versement.pipeline`` so that the packaging and the benchmarks use them without
importing every stage (extraction, quality, VITAM client).
"""

from __future__ import annotations

from typing import Any

from extractors.scope import Scope
from extractors.specs import DatasetSpec
from versement.ledger.models import Batch


def batch_scope(batch: Batch) -> Scope:
    """The scope the batch recorded at creation (older batches: read back from its label)."""
    if batch.scope_detail:
        return Scope.from_json(batch.scope_detail)
    return Scope.academic_year(int(batch.scope[:4])) if batch.scope[:4].isdigit() else Scope.everything()


def dataset_spec_record(spec: DatasetSpec) -> dict[str, Any]:
    """The ledger's copy of a dataset's specification, as extracted."""
    return {
        "label": spec.label,
        "description": spec.description,
        "record_type": spec.record_type,
        "key": list(spec.key),
        "scoped": spec.scoped,
        "person_key": spec.person_key,
        "person_kind": spec.person_kind,
        "references": list(spec.references),
        "columns": {c.name: {"label": c.label, "tags": sorted(c.tags)} for c in spec.columns.values()},
        "exclude_columns": list(spec.exclude_columns),
    }
