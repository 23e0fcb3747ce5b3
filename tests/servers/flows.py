"""A scripted browser for the providers' own pages (requests): follow redirects, fill and send their forms."""

from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

MAX_STEPS = 12


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": attrs.get("action") or "",
                    "method": (attrs.get("method") or "get").lower(),
                    "fields": {},
                }
            )
        elif tag == "input" and self.forms and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.forms[-1]["fields"].setdefault(attrs["name"], attrs.get("value") or "")


def follow(start: str, fill: dict, back_to: str, session: requests.Session | None = None) -> str:
    """Go to ``start``, send each page's first form with ``fill`` merged in; return the URL sent back to ``back_to``.

    Raises AssertionError with the page when the provider shows no form and sends nowhere.
    """
    session = session or requests.Session()
    url, method, data = start, "get", None
    for _ in range(MAX_STEPS):
        response = session.request(method, url, data=data, allow_redirects=False, timeout=30)
        if response.is_redirect:
            url, method, data = urljoin(url, response.headers["Location"]), "get", None
            if url.startswith(back_to):
                return url
            continue
        parser = _Forms()
        parser.feed(response.text)
        assert parser.forms, f"{response.status_code} at {url} with no form:\n{response.text[:1500]}"
        form = parser.forms[0]
        fields = {**form["fields"], **{k: v for k, v in fill.items() if k in form["fields"]}}
        url, method, data = urljoin(url, form["action"] or url), form["method"], fields
    raise AssertionError(f"no way back to {back_to} after {MAX_STEPS} pages; last at {url}")
