"""Extraction stage: source database → Parquet files, all read from one consistent snapshot.

Entry points::

    from extractors import DatasetSpec, extract, generate_apogee

    generate_apogee(Path("var/demo/apogee.sqlite"))
    snapshot = extract(
        "sqlite:///var/demo/apogee.sqlite",
        [DatasetSpec("inscriptions", "INS_ADM_ETP",
                     key=("COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE"),
                     filters={"COD_ANU": "2023"})],
        Path("var/staging/run-1"),
    )
"""

from extractors.datasets import DatasetSpec, ExtractedDataset, Snapshot
from extractors.errors import ExtractionError
from extractors.extract import extract
from extractors.synthetic import SourceSummary, generate, generate_apogee

__all__ = [
    "DatasetSpec",
    "ExtractedDataset",
    "ExtractionError",
    "Snapshot",
    "SourceSummary",
    "extract",
    "generate",
    "generate_apogee",
]
