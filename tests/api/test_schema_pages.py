"""The API documentation pages work with no internet access: every script, style sheet and icon that
/schema, /schema/swagger and /schema/redoc load (and every url() or @import in those style sheets) is
served by the gateway itself, none by a CDN or a font service."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

PAGES = ("/schema", "/schema/swagger", "/schema/redoc")
# A src= or href= attribute whose value names a scheme or another host (`https://…`, `//host/…`).
EXTERNAL_ATTRIBUTE = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*((?:[a-z][a-z0-9+.-]*:)?//[^"'\s>]*)""", re.IGNORECASE)
CSS_REFERENCE = re.compile(
    # CSS strings may hold backslash escapes (swagger-ui.css's SVG data URIs: url("…xmlns=\"http://…\"…")).
    r"""url\(\s*(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'|(?P<bare>[^"')\s]*))\s*\)"""
    r"""|@import\s+(?:"(?P<idq>(?:[^"\\]|\\.)*)"|'(?P<isq>(?:[^'\\]|\\.)*)')""",
    re.IGNORECASE,
)
EXPECTED_TYPE = {"script": "javascript", "stylesheet": "text/css", "icon": "image/"}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The pages read no database: SQLite only."""
    return sqlite_url


class _References(HTMLParser):
    """A page's <script src>, <link href> and inline <style> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []  # (kind, url)
        self.inline_styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script" and values.get("src"):
            self.found.append(("script", values["src"]))
        elif tag == "link" and values.get("href"):
            rel = values.get("rel", "").lower().split()
            self.found.append(
                ("stylesheet" if "stylesheet" in rel else "icon" if "icon" in rel else "link", values["href"])
            )
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.inline_styles.append(data)


def css_references(css: str) -> list[str]:
    """The URLs of a style sheet's url() and @import, but data: URIs; every url( is read, none skipped."""
    matches = list(CSS_REFERENCE.finditer(css))
    assert len([m for m in matches if m[0].lower().startswith("url(")]) == len(re.findall(r"url\(", css, re.I))
    found = [next(value for value in m.groupdict().values() if value is not None).strip() for m in matches]
    return [url for url in found if url and not url.lower().startswith("data:")]


def assert_same_origin(url: str, base: str, where: str) -> None:
    parts, own = urlsplit(url), urlsplit(base)
    assert not url.startswith("//"), f"{where}: {url} is protocol-relative (another host)"
    assert parts.scheme in ("", own.scheme) and parts.netloc in ("", own.netloc), f"{where}: {url} is external"


async def test_the_documentation_pages_load_nothing_from_outside(client):
    base = str(client.base_url)
    for page in PAGES:
        response = await client.get(page)
        assert response.status_code == 200, f"{page}: {response.status_code} {response.text[:200]}"
        assert response.headers["content-type"].startswith("text/html"), response.headers
        html = response.text
        external = EXTERNAL_ATTRIBUTE.findall(html)
        assert not external, f"{page} names external URLs in src=/href=: {external}"

        parser = _References()
        parser.feed(html)
        kinds = {kind for kind, _ in parser.found}
        assert "script" in kinds, f"{page} loads no script: {parser.found}"
        pending = [(kind, urljoin(urljoin(base, page), url), page) for kind, url in parser.found]
        pending += [
            ("any", urljoin(urljoin(base, page), url), f"{page} <style>")
            for style in parser.inline_styles
            for url in css_references(style)
        ]
        fetched: set[str] = set()
        while pending:
            kind, url, where = pending.pop()
            assert_same_origin(url, base, where)
            if url in fetched:
                continue
            fetched.add(url)
            asset = await client.get(url)
            assert asset.status_code == 200, f"{where}: {url} answered {asset.status_code}"
            assert asset.content, f"{where}: {url} is empty"
            content_type = asset.headers.get("content-type", "")
            assert EXPECTED_TYPE.get(kind, "") in content_type, f"{where}: {url} is {content_type!r}, not {kind}"
            if "text/css" in content_type:
                pending += [("any", urljoin(url, ref), url) for ref in css_references(asset.text)]


async def test_the_documents_are_still_served_and_the_assets_are_not_in_them(client):
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200, document.text
    assert not [path for path in document.json()["paths"] if path.startswith("/schema")]
    for path in ("/schema/openapi.yaml", "/schema/openapi.yml"):
        response = await client.get(path)
        assert response.status_code == 200 and response.text.startswith(("openapi:", "components:")), response.text


def test_css_references_are_found():
    css = (
        """a{background:url("data:image/svg+xml;charset=utf-8,<svg xmlns=\\"http://www.w3.org/2000/svg\\"/>")}"""
        """ @import "fonts.css"; @import url(more.css); b{src:url( '/x/y.woff2' )} c{x:url(z.png)}"""
    )
    assert css_references(css) == ["fonts.css", "more.css", "/x/y.woff2", "z.png"]
    assert EXTERNAL_ATTRIBUTE.search("<link href='https://fonts.googleapis.com/css'>")
    assert EXTERNAL_ATTRIBUTE.search('<script src="//cdn.example/x.js">')
    assert not EXTERNAL_ATTRIBUTE.search('<script src="/schema/static/x.js">')
