"""Progress lines: one line per update in logs, one rewriting line on a terminal."""

from __future__ import annotations

import io

import pytest

from versement import progress
from vitam_client import OperationStatus

OPERATION = "aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_each_update_is_a_line(capsys):
    progress.rows_extracted("inscriptions", 1234567)
    progress.operation_status(OperationStatus(OPERATION, "RUNNING", "STARTED"))
    progress.operation_status(OperationStatus(OPERATION, "COMPLETED", "OK"))
    progress.done()
    assert capsys.readouterr().err.splitlines() == [
        "  inscriptions : 1\u202f234\u202f567 lignes extraites",
        f"  opération VITAM {OPERATION} : RUNNING/STARTED",
        f"  opération VITAM {OPERATION} : COMPLETED/OK",
    ]


def test_on_a_terminal_one_line_rewrites_itself_until_the_operation_ends(monkeypatch: pytest.MonkeyPatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    progress.operation_status(OperationStatus(OPERATION, "RUNNING", "STARTED"))
    assert "\n" not in terminal.getvalue()
    progress.operation_status(OperationStatus(OPERATION, "COMPLETED", "KO"))
    text = terminal.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert text.rstrip().endswith("COMPLETED/KO")


def test_extraction_progress_shows_rows_per_second_and_elapsed_time(capsys):
    progress.rows_extracted("resultats_elp", 1_500_000, 125.0)
    assert capsys.readouterr().err.splitlines() == [
        "  resultats_elp : 1\u202f500\u202f000 lignes extraites, 12\u202f000 lignes/s, 2 min 05 s"
    ]


def test_a_partition_is_shown_as_its_dataset_and_its_number(capsys):
    progress.rows_extracted("resultats_elements.part-003-of-008", 2000)
    assert capsys.readouterr().err == "  resultats_elements (partition 3/8) : 2\u202f000 lignes extraites\n"
