"""`/docs` works offline (issue 11): Swagger UI's page loads every asset from the receiver
itself, none from a CDN."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def test_the_docs_page_loads_its_assets_from_the_receiver(receiver):
    page = requests.get(f"{receiver.url}/docs", timeout=10)
    assert page.status_code == 200 and "swagger" in page.text.lower()
    parser = _Assets()
    parser.feed(page.text)
    assert any(u.endswith("swagger-ui-bundle.js") for u in parser.urls), parser.urls
    assert any(u.endswith("swagger-ui.css") for u in parser.urls), parser.urls
    own = urlsplit(receiver.url).netloc
    for url in parser.urls:
        absolute = urljoin(page.url, url)
        assert urlsplit(absolute).netloc == own, f"{url} is not served by the receiver"
        asset = requests.get(absolute, timeout=10)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
    assert "openapi.json" in page.text
