"""Archival renditions of extracted datasets: Parquet in, CSV (UTF-8, RFC 4180) out.

Parquet is the working format; what goes to the archive is CSV, which any reader can open in
fifty years. The conversion streams record batches, so memory does not grow with the table.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def parquet_to_csv(parquet: Path, out: Path, *, batch_rows: int = 50_000) -> Path:
    """Write ``out`` from ``parquet`` (header line, comma separator, quoted where needed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    source = pq.ParquetFile(parquet)
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    try:
        with pacsv.CSVWriter(partial, source.schema_arrow, write_options=options) as writer:
            for batch in source.iter_batches(batch_size=batch_rows):
                writer.write_batch(batch)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out
