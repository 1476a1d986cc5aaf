"""Quality stage: structural checks of extracted datasets (great-expectations) and reconciliation.

Entry points::

    from validation import check_dataset, reconcile

    outcome = reconcile(extracted)            # counts match, file unchanged since extraction
    report = check_dataset(extracted.name, extracted.path, key=("COD_IND",),
                           expected_rows=extracted.source_count)
    ledger_payload = report.to_dict()
"""

from validation.quality import check_dataset
from validation.reconcile import reconcile
from validation.report import ExpectationOutcome, QualityReport

__all__ = ["ExpectationOutcome", "QualityReport", "check_dataset", "reconcile"]
