"""Quality stage: expectation suites run in DuckDB over the Parquet files, and reconciliation.

Entry points::

    from validation import DatasetInput, validate_batch

    quality = validate_batch([DatasetInput(name, path, rows, source_count, sha256, spec, manifest)],
                             scope=Scope.academic_year(2023), tool="apogee")
    quality.success                     # no blocking (critical) failure
    quality.report(name).to_dict()      # the ledger's JSON summary of one dataset

Suites: a default derived from each dataset's specification plus the reviewed suite files
``extractors/specs/suites/<tool>/<dataset>.json`` (validation.suites).
"""

from validation.gate import BatchQuality, DatasetInput, validate_batch
from validation.report import ExpectationOutcome, QualityReport
from validation.suites import QualityError, SuiteError

__all__ = [
    "BatchQuality",
    "DatasetInput",
    "ExpectationOutcome",
    "QualityError",
    "QualityReport",
    "SuiteError",
    "validate_batch",
]
