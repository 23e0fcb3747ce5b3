"""Static files: a content hash in every address, and a long cache for addresses that carry it.

``url_for("static", filename="app.css")`` gives ``/static/app.css?v=<hash>``:
a changed file gets a new address, so browsers may keep each version for a
year without asking again (campus networks are slow; phones come back
often). An address without the hash, or with a stale one, must be checked
again each time (ETag), so nobody keeps an old file under a new name.
"""

import hashlib
from pathlib import Path

from flask import Flask, request

YEAR_SECONDS = 365 * 24 * 3600


class _Versions:
    """Content hashes of the static files, read once per file and again when it changes."""

    def __init__(self, folder: str):
        self.folder = Path(folder).resolve()
        self.cache: dict[str, tuple[float, str]] = {}

    def get(self, filename: str) -> str | None:
        path = (self.folder / filename).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            return None
        mtime = path.stat().st_mtime
        cached = self.cache.get(filename)
        if cached is None or cached[0] != mtime:
            cached = (mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
            self.cache[filename] = cached
        return cached[1]


def register(app: Flask) -> None:
    versions = _Versions(app.static_folder)

    @app.url_defaults
    def _static_version(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = versions.get(values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def _static_cache(response):
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        filename = (request.view_args or {}).get("filename", "")
        if request.args.get("v") and request.args.get("v") == versions.get(filename):
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = YEAR_SECONDS
            response.cache_control.immutable = True
            response.headers.pop("Expires", None)
        else:
            response.cache_control.no_cache = True
            response.cache_control.max_age = None
            response.cache_control.public = True
        return response
