"""Measure how long checking a photo takes: decode, turn upright, strip, re-encode, thumbnail.

    .venv/bin/python benchmarks/attachments_bench.py             # 5 rounds per file
    .venv/bin/python benchmarks/attachments_bench.py --rounds 10

Runs ``services.attachments.prepare`` (everything an upload costs but the
database row) on photos made here as a phone makes them: a 12-megapixel
JPEG with an orientation tag and a GPS position, the same upright, a
48-megapixel JPEG, a 12-megapixel HEIC and a 4-megapixel PNG screenshot.
Prints the median and the largest time per file and the peak memory of
the process. Figures: docs/attachments.md.
"""

import argparse
import io
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _photo(size, fmt: str, orientation: int | None = None) -> bytes:
    import os

    from PIL import Image

    # Smoothed noise compresses about like a photo (a flat colour would be too easy).
    width, height = size
    tile = Image.frombytes("RGB", (128, 128), os.urandom(128 * 128 * 3)).resize((512, 512), Image.BICUBIC)
    image = Image.new("RGB", size)
    for x in range(0, width, 512):
        for y in range(0, height, 512):
            image.paste(tile, (x, y))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
        exif.get_ifd(0x8825).update({1: "N", 2: (31.0, 17.0, 0.0), 3: "E", 4: (121.0, 30.0, 0.0)})
    buffer = io.BytesIO()
    options = {"quality": 90} if fmt in ("JPEG", "HEIF") else {}
    if orientation:
        options["exif"] = exif.tobytes()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from werkzeug.datastructures import FileStorage

    from tracker import create_app
    from tracker.services import attachments

    folder = Path(tempfile.mkdtemp(prefix="attachments-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "ATTACHMENTS_DIR": str(folder / "files"), "ATTACHMENT_MAX_BYTES": 64 * 1024 * 1024})
    files = {
        "12 MP JPEG, sideways (orientation 6), GPS": ("a.jpg", _photo((4000, 3000), "JPEG", 6)),
        "12 MP JPEG, upright": ("b.jpg", _photo((4000, 3000), "JPEG")),
        "48 MP JPEG, upright": ("c.jpg", _photo((8000, 6000), "JPEG")),
        "12 MP HEIC": ("d.heic", _photo((4000, 3000), "HEIF")),
        "4 MP PNG screenshot": ("e.png", _photo((2400, 1600), "PNG")),
    }
    print(f"{'file':45} {'size':>9} {'median':>8} {'max':>8}")
    with app.test_request_context():
        for label, (name, data) in files.items():
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                prepared = attachments.prepare(FileStorage(io.BytesIO(data), filename=name))
                times.append(time.perf_counter() - started)
                prepared.discard()
            print(f"{label:45} {len(data) / 1e6:7.1f}MB {statistics.median(times):7.2f}s {max(times):7.2f}s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process: {peak_mb:.0f} MB ({args.rounds} rounds per file)")


if __name__ == "__main__":
    main()
