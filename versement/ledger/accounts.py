"""Local accounts of the consultation browser, kept in the ledger database.

Why the ledger database rather than a file beside the configuration: it is the one database a
deployment already backs up, migrates (Alembic) and protects, it is PostgreSQL in production
(several browser processes share it), and every account change is written to the same audit
trail as the decisions it lets people see. Passwords are stored only as argon2id hashes
(``argon2-cffi``); the audit trail records who was created or changed, never a hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, String, select
from sqlalchemy.orm import Mapped, mapped_column

from versement.ledger.models import Base
from versement.ledger.store import Ledger, LedgerError, now

Role = Literal["auditor", "archivist", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
ROLE_LABELS_FR = {"auditor": "auditeur", "archivist": "archiviste", "admin": "administrateur"}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
MIN_PASSWORD = 12


class Account(Base):
    __tablename__ = "browser_account"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class AccountError(LedgerError):
    """An account request that cannot be honoured (bad name, unknown role, short password...)."""


@dataclass(frozen=True)
class AccountInfo:
    name: str
    role: str
    active: bool
    created_at: str
    updated_at: str


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise AccountError(
            f"nom de compte {name!r} : de 1 à 128 lettres, chiffres, « . », « _ », « @ » ou « - », "
            "en commençant par une lettre ou un chiffre"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"rôle inconnu {role!r} (rôles : {', '.join(ROLES)})")
    return role


class Accounts:
    """Create, change and check local accounts; every change is an audit event."""

    def __init__(self, ledger: Ledger, hasher: PasswordHasher | None = None) -> None:
        self.ledger = ledger
        self.hasher = hasher or PasswordHasher()  # argon2id, argon2-cffi's default cost
        self._dummy: str | None = None

    def _dummy_hash(self) -> str:
        """Verifying an unknown name costs as much as a known one: timing tells no name apart."""
        if self._dummy is None:
            self._dummy = self.hasher.hash("versement: no such account")
        return self._dummy

    def add(self, name: str, role: str, password: str, *, actor: str, replace: bool = False) -> AccountInfo:
        check_name(name)
        check_role(role)
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"compte {name} : le mot de passe doit compter au moins {MIN_PASSWORD} caractères")
        stamp = now()
        with self.ledger.session() as session:
            existing = session.get(Account, name)
            if existing is not None and not replace:
                raise AccountError(
                    f"le compte {name} existe déjà (--replace pour changer son rôle et son mot de passe)"
                )
            if existing is None:
                existing = Account(name=name, created_at=stamp)
                session.add(existing)
            existing.role = role
            existing.password_hash = self.hasher.hash(password)
            existing.active = True
            existing.updated_at = stamp
            created = existing.created_at == stamp
            info = _info(existing)
        action = "account.created" if created else "account.changed"
        self.ledger.record(None, actor=actor, action=action, details={"account": name, "role": role})
        return info

    def authenticate(self, name: str, password: str) -> AccountInfo | None:
        """The account if the name and password match an active account, else None."""
        with self.ledger.session() as session:
            account = session.get(Account, name) if _NAME.fullmatch(name) else None
            stored = account.password_hash if account is not None and account.active else self._dummy_hash()
            try:
                self.hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return None
            if account is None or not account.active:
                return None
            if self.hasher.check_needs_rehash(stored):
                account.password_hash = self.hasher.hash(password)
            return _info(account)

    def get(self, name: str) -> AccountInfo | None:
        with self.ledger.reading() as session:
            account = session.get(Account, name)
            return None if account is None else _info(account)

    def all(self) -> list[AccountInfo]:
        with self.ledger.reading() as session:
            return [_info(a) for a in session.scalars(select(Account).order_by(Account.name))]


def _info(account: Account) -> AccountInfo:
    return AccountInfo(account.name, account.role, account.active, account.created_at, account.updated_at)
