"""The packaging settings: rules referential and SIP size limits (the [seda] table)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from versement.config import _SedaFile


def test_defaults():
    seda = _SedaFile.model_validate({})
    assert (seda.rules, seda.max_items, seda.max_bytes) == ("", 100_000, 1_000_000_000)


@pytest.mark.parametrize("key", ["max_items", "max_bytes"])
def test_limits_must_be_positive(key):
    with pytest.raises(ValidationError, match=key):
        _SedaFile.model_validate({key: 0})


def test_a_misspelt_key_is_refused():
    with pytest.raises(ValidationError, match="max_itmes"):
        _SedaFile.model_validate({"max_itmes": 10})
