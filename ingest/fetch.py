"""Fetching untrusted URLs safely: every hop's address checked after DNS resolution and the
connection pinned to it, redirects followed by hand, one deadline a fetch, a size cap."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from berita import __version__
from berita.ingest.config import IngestConfig

USER_AGENT = f"berita/{__version__} (+news question answering)"
MAX_REDIRECTS = 5
METADATA_ADDRESSES = {
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
}


class StopRequestedError(Exception):
    """The run was asked to stop while a download was under way."""


class SourceError(Exception):
    """A source could not be read; the message is one line."""


@dataclass(frozen=True)
class Fetched:
    """A fetched HTTP response body."""

    url: str
    content_type: str
    body: bytes
    charset: str = ""  # as the Content-Type header declares it
    not_modified: bool = False  # 304: the validators sent still hold
    etag: str = ""
    last_modified: str = ""


class Fetcher:
    """HTTP GETs that are safe to point at untrusted URLs: every hop's address is checked
    after DNS resolution (no loopback, private, link-local or cloud-metadata address unless
    ALLOW_PRIVATE_URLS; metadata never) and the connection goes to that checked address (the
    name is not resolved twice, so a DNS answer that changes in between cannot point it
    elsewhere: DNS rebinding), redirects are followed by hand (at most MAX_REDIRECTS), and
    each fetch has a total deadline of FETCH_TIMEOUT_S, however slowly the server drips its
    bytes."""

    def __init__(self, config: IngestConfig, stop: threading.Event | None = None) -> None:
        self.stop = stop  # once set, a download ends (StopRequestedError) at its next chunk
        self.timeout_s = config.fetch_timeout_s
        self.max_bytes = config.max_source_bytes
        self.allow_private = config.allow_private_urls
        self._client = httpx.Client(
            timeout=self.timeout_s, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def get(self, url: str, etag: str = "", last_modified: str = "") -> Fetched:
        """The body of `url`, after its redirects; SourceError says in one line why not.
        With validators from an earlier response, an unchanged resource comes back as
        `not_modified` with no body (a conditional GET)."""
        deadline = time.monotonic() + self.timeout_s
        headers = {"If-None-Match": etag} if etag else {}
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _ in range(MAX_REDIRECTS + 1):
            address = check_address(url, allow_private=self.allow_private)
            try:
                fetched = self._get_one(url, address, deadline, headers)
            except httpx.TimeoutException:
                raise SourceError(f"timed out (FETCH_TIMEOUT_S is {self.timeout_s:g})") from None
            except httpx.HTTPError as error:
                raise SourceError(f"cannot fetch ({type(error).__name__}: {error})") from None
            if isinstance(fetched, Fetched):
                return fetched
            url = fetched
        raise SourceError(f"more than {MAX_REDIRECTS} redirects")

    def _get_one(
        self, url: str, address: str, deadline: float, headers: dict[str, str]
    ) -> Fetched | str:
        """The response of `url`'s server at `address`, or the URL it redirects to. The
        request names the host as usual (the Host header, and TLS's SNI and certificate
        check), though the connection is made to the address."""
        remaining = deadline - time.monotonic()
        asked = httpx.URL(url)
        pinned = asked.copy_with(host=address)
        headers = {**headers, "Host": asked.netloc.decode("ascii")}
        extensions = {"sni_hostname": asked.host} if asked.scheme == "https" else {}
        with self._client.stream(
            "GET", pinned, headers=headers, timeout=max(remaining, 0.1), extensions=extensions
        ) as response:
            if response.status_code == 304:
                return Fetched(url, "", b"", not_modified=True)
            if response.is_redirect:
                return str(asked.join(response.headers["location"]))
            if response.status_code >= 400:
                raise SourceError(f"HTTP {response.status_code} {response.reason_phrase}")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise SourceError(f"response larger than MAX_SOURCE_BYTES ({self.max_bytes:,})")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("deadline")
                if self.stop is not None and self.stop.is_set():
                    raise StopRequestedError
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return Fetched(
                url,
                content_type,
                b"".join(chunks),
                charset=response.charset_encoding or "",
                etag=response.headers.get("etag", ""),
                last_modified=response.headers.get("last-modified", ""),
            )


def check_address(url: str, *, allow_private: bool) -> str:
    """The address to fetch `url` from (the first its host resolves to); SourceError unless
    every address the host resolves to may be fetched."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"not an http(s) URL: {url[:80]}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        raise SourceError(f"cannot resolve {parts.hostname}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if address in METADATA_ADDRESSES:
            raise SourceError(f"refused: {parts.hostname} is a cloud metadata address")
        if not address.is_global and not allow_private:
            raise SourceError(
                f"refused: {parts.hostname} resolves to a non-public address ({address}); "
                "set ALLOW_PRIVATE_URLS=true to allow"
            )
    return str(infos[0][4][0]).split("%")[0]
