"""Bearer API keys: a read key and a write key, compared in constant time, never logged.

- no key configured: the server is open (bind it to 127.0.0.1, the default);
- ``api_key`` set: every route but ``/health`` and ``/ready`` needs ``Authorization: Bearer KEY``
  with the read key or the write key;
- ``write_key`` set: ``POST``/``DELETE /v1/documents`` need the write key (the read key gets 403);
  without a write key, writes take the read key.

A missing or unknown key is 401 (with ``WWW-Authenticate: Bearer``); a read key on a write route is 403.
"""

from __future__ import annotations

import hmac
from typing import Literal

from ..secrets import Secret
from .errors import APIError

Access = Literal["open", "read", "write"]


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _equal(given: str, secret: Secret | None) -> bool:
    if secret is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), secret.reveal().encode("utf-8"))


class KeyCheck:
    """Decides whether an ``Authorization`` header may use a route of a given access level."""

    def __init__(self, api_key: Secret | None, write_key: Secret | None) -> None:
        self.api_key = api_key
        self.write_key = write_key

    @property
    def enabled(self) -> bool:
        return self.api_key is not None or self.write_key is not None

    def require(self, access: Access, header: str | None) -> None:
        """Raise 401/403 ``APIError`` unless ``header`` grants ``access``."""
        if access == "open":
            return
        needed = self.write_key or self.api_key if access == "write" else self.api_key
        if needed is None:
            return
        token = _bearer(header)
        if token is None:
            raise self._unauthorized("no API key: send the header 'Authorization: Bearer YOUR_KEY'")
        # both comparisons always run, so timing does not tell which key was close
        is_write = _equal(token, self.write_key)
        is_read = _equal(token, self.api_key)
        if access == "read" and (is_read or is_write):
            return
        if access == "write" and (is_write or (self.write_key is None and is_read)):
            return
        if access == "write" and is_read:
            raise APIError(403, "this key may read but not write: writes need the write key",
                           code="insufficient_permissions")
        raise self._unauthorized("invalid API key")

    @staticmethod
    def _unauthorized(message: str) -> APIError:
        return APIError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
