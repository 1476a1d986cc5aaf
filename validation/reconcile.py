"""The hand-off check between extraction and the next stages."""

from __future__ import annotations

from extractors.datasets import ExtractedDataset
from extractors.files import sha256_file
from validation.report import ExpectationOutcome

RECONCILE = "reconcile_with_source"


def reconcile(dataset: ExtractedDataset) -> ExpectationOutcome:
    """Rows written equal the source's count, and the file is still the one that was written.

    The digest is recomputed from the file: a Parquet file changed (or lost) after extraction
    must not be packaged as if it were the extract.
    """
    actual = sha256_file(dataset.path) if dataset.path.is_file() else None
    counts_match = dataset.rows == dataset.source_count
    digest_match = actual == dataset.sha256
    return ExpectationOutcome(
        expectation=RECONCILE,
        column=None,
        success=counts_match and digest_match,
        unexpected_count=None,
        details={
            "path": str(dataset.path),
            "rows": dataset.rows,
            "source_count": dataset.source_count,
            "counts_match": counts_match,
            "sha256_expected": dataset.sha256,
            "sha256_actual": actual,  # None when the file is missing
            "digest_match": digest_match,
        },
    )
