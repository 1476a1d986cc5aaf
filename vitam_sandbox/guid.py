"""VITAM-looking identifiers: 36 lowercase base32 characters with a type prefix."""

from __future__ import annotations

import base64
import secrets

# Prefixes seen in VITAM answers (vitam-api.md §6.2).
OPERATION = "aeeaaa"
UNIT = "aeaqaa"
OBJECT = "aeaaaa"
OBJECT_GROUP = "aebaaa"
REQUEST = "aecaaa"  # plain requests (not operations); the value only needs to look like a GUID

_LENGTH = 36


def new_guid(prefix: str) -> str:
    random_part = base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()
    return (prefix + random_part)[:_LENGTH]


def looks_like_guid(value: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz234567")
    return len(value) == _LENGTH and set(value) <= allowed
