"""Read-only web application for auditors and archivists."""

from browser.app import create_app

__all__ = ["create_app"]
