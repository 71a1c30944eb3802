"""Reading from the client's FHIR server (CDS Hooks 2.0 "FHIR Resource Access") with requests.

Only servers on the configured allowlist are called (no SSRF through ``fhirServer``), https only
outside dev mode (2.0: "MUST be https for production data").  Every GET has connect and read
timeouts cut to what is left of the hook call's budget; ``next`` links of a searchset are
followed while the budget lasts and only on the same allowed server.  The bearer token is sent,
never logged or kept.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from adapter.cdshooks.config import CdsConfig
from adapter.fhir import Resource

FHIR_JSON = "application/fhir+json"
#: searchset pages followed per prefetch key at most
MAX_PAGES = 20


class FetchError(Exception):
    """A fetch that did not give a resource; the message names the key and why (no token)."""


def _normal(url: str) -> str:
    return url.rstrip("/") + "/"


def server_allowed(config: CdsConfig, base: str) -> str | None:
    """Why ``base`` may not be called (None: it may): not https outside dev mode, or not on the
    allowlist (prefix match on whole path segments)."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "fhirServer is not an http(s) URL"
    if parts.scheme != "https" and not config.dev_mode:
        return "fhirServer must use https (http only in dev mode)"
    if parts.username or parts.password:
        return "fhirServer must not carry credentials"
    if not any(_normal(base).startswith(_normal(a)) for a in config.fhir_server_allowlist):
        return "fhirServer is not on the configured allowlist"
    return None


class Deadline:
    """What is left of one hook call's time budget."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


class FhirFetcher:
    """GETs against an allowed FHIR server; one requests.Session per thread (pooled connections)."""

    def __init__(self, config: CdsConfig) -> None:
        self.config = config
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy settings from the environment
            self._local.session = session
        return session

    def _get(self, url: str, token: str | None, deadline: Deadline) -> Resource:
        left = deadline.left()
        if left <= 0:
            raise FetchError("the time budget ran out")
        timeout = (
            min(self.config.fetch_connect_timeout_seconds, left),
            min(self.config.fetch_read_timeout_seconds, left),
        )
        headers = {"Accept": FHIR_JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            answer = self._session().get(
                url, headers=headers, timeout=timeout, allow_redirects=False
            )
        except requests.Timeout:
            raise FetchError("the FHIR server did not answer in time") from None
        except requests.RequestException as exc:
            raise FetchError(
                f"the FHIR server could not be reached ({type(exc).__name__})"
            ) from None
        if answer.status_code == 404:
            return {}
        if answer.status_code != 200:
            raise FetchError(f"the FHIR server answered HTTP {answer.status_code}")
        try:
            body: Any = answer.json()
        except ValueError:
            raise FetchError("the FHIR server answered with something that is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FetchError("the FHIR server answered with something that is not a resource")
        return body

    def fetch(
        self, base: str, relative: str, token: str | None, deadline: Deadline
    ) -> Resource | None:
        """The resource (or searchset Bundle, pages joined) at ``base/relative``; None when a read
        finds nothing (404).  Raises :class:`FetchError`."""
        why = server_allowed(self.config, base)
        if why is not None:
            raise FetchError(why)
        url = urljoin(_normal(base), relative.lstrip("/"))
        first = self._get(url, token, deadline)
        if not first:
            return None
        if first.get("resourceType") != "Bundle":
            return first
        entries = list(first.get("entry") or [])
        page, pages = first, 1
        while pages < MAX_PAGES:
            nxt = next(
                (lk.get("url") for lk in page.get("link") or [] if lk.get("relation") == "next"),
                None,
            )
            if not isinstance(nxt, str) or server_allowed(self.config, nxt) is not None:
                break
            if not _normal(nxt).startswith(_normal(base)):
                break
            page = self._get(nxt, token, deadline)
            entries += page.get("entry") or []
            pages += 1
        if pages == 1:
            return first
        joined = {k: v for k, v in first.items() if k != "link"}
        joined["entry"] = entries
        return joined
