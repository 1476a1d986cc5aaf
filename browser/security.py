"""Who is asking, and what they may see: sessions, roles, CSRF tokens, the login rate limit.

Two ways to sign in. *Local*: accounts in the ledger database (argon2 hashes), a login form, a
signed session cookie (HttpOnly, SameSite=Strict, Secure behind HTTPS). *Header*: a CAS or
Shibboleth reverse proxy authenticates and passes ``REMOTE_USER`` (and optionally groups); the
header is believed only when the TCP peer is one of ``browser.trusted_proxies``, and the role
comes from ``browser.roles``. Every route names the permission it needs; nothing is public but
the login page, the static assets and the health probe.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_address

from starlette.requests import Request

from versement.config import BrowserConfig

ROLES = ("auditor", "archivist", "admin")

# What each role may do. A route asks for one permission; a role absent here is refused.
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "dashboard": frozenset({"auditor", "archivist", "admin"}),
    "batch": frozenset({"auditor", "archivist", "admin"}),
    "download": frozenset({"auditor", "archivist"}),
    "dataset": frozenset({"auditor", "archivist"}),
    "export": frozenset({"auditor", "archivist"}),
    "person": frozenset({"auditor", "archivist"}),
    "audit_log": frozenset({"auditor", "admin"}),
    "accounts": frozenset({"admin"}),
    "override": frozenset({"archivist", "admin"}),  # lift a failed quality gate (versement.quality)
}


@dataclass(frozen=True)
class User:
    name: str
    role: str
    via: str  # "local" or "header"

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def role_from_mapping(config: BrowserConfig, name: str, groups: tuple[str, ...]) -> str | None:
    """The strongest role the configuration gives this user or one of their groups."""
    for role in ("admin", "archivist", "auditor"):  # most powerful first, a user listed twice gets it
        members = config.roles.get(role, {})
        if name in members.get("users", ()) or set(groups) & set(members.get("groups", ())):
            return role
    return None


def trusted_peer(config: BrowserConfig, request: Request) -> bool:
    """True only when the TCP peer is a configured proxy (never from a forwarded-for header)."""
    if request.client is None or not config.trusted_proxies:
        return False
    try:
        peer = ip_address(request.client.host)
    except ValueError:
        return False
    return any(peer in network for network in config.trusted_proxies)


def header_user(config: BrowserConfig, request: Request) -> User | None:
    if config.auth != "header" or not trusted_peer(config, request):
        return None
    name = request.headers.get(config.user_header, "").strip()
    if not name:
        return None
    groups: tuple[str, ...] = ()
    if config.groups_header:
        raw = request.headers.get(config.groups_header, "")
        groups = tuple(g.strip() for g in raw.replace(",", ";").split(";") if g.strip())
    role = role_from_mapping(config, name, groups)
    return None if role is None else User(name, role, "header")


# -- CSRF --------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The session's token, made on first use; every form that posts carries it."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, submitted: object) -> bool:
    expected = request.session.get("csrf")
    return isinstance(expected, str) and isinstance(submitted, str) and hmac.compare_digest(expected, submitted)


# -- login rate limit --------------------------------------------------------------------------


class LoginLimiter:
    """At most ``attempts`` failed sign-ins per window, per client address and per account name.

    Both keys count, so one address cannot try many names and many addresses cannot hammer one
    name. In memory, per process: a deployment with several processes multiplies the allowance.
    """

    def __init__(self, attempts: int, window: float, clock: object = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, address: str, name: str) -> float:
        """Seconds to wait before trying again (0: allowed)."""
        now = self._now()
        with self._lock:
            waits = []
            for key in (f"ip:{address}", f"name:{name.lower()}"):
                times = self._recent(key, now)
                if len(times) >= self.attempts:
                    waits.append(self.window - (now - times[0]))
            return max(waits, default=0.0)

    def failed(self, address: str, name: str) -> None:
        now = self._now()
        with self._lock:
            for key in (f"ip:{address}", f"name:{name.lower()}"):
                self._recent(key, now).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(f"name:{name.lower()}", None)
