"""Measure what checking a photo costs: decode, turn upright, strip, re-encode, thumbnail.

    .venv/bin/python benchmarks/attachments_bench.py             # 5 rounds per file
    .venv/bin/python benchmarks/attachments_bench.py --rounds 10
    .venv/bin/python benchmarks/attachments_bench.py --server    # 8 uploads at once on gunicorn

Without ``--server``: runs ``services.attachments.prepare`` (everything an
upload costs but the database row) on photos made here as a phone makes
them: a 12-megapixel JPEG with an orientation tag and a GPS position, the
same upright, a 48-megapixel JPEG, a 12-megapixel HEIC and a 4-megapixel
PNG screenshot. Prints the median and the largest time per file and the
peak memory of the process.

With ``--server``: the embedded default (SQLite, in a scratch instance
folder) migrated and seeded (``seed-demo --days 1``), gunicorn as
``desk.py run`` starts it (2 workers x 4 threads, gthread) on loopback,
then for each file (a 7000 x 7000 PNG of about 200 KB, a 12-megapixel
phone JPEG of about 6 MB), ``--storms`` times: ``--uploads`` logged-in
clients post it at once to a request's page while GET ``/login`` is sent
every 100 ms, answered or not. Prints the answers, the longest storm's
wall time, the ``/login`` p50/p95/max during the storms, and the web
workers' resident memory: the largest sum sampled every 20 ms, and the
sum 3 s after the last upload.
``--root`` runs another checkout (the code before a change) the same way.
Figures: docs/attachments.md.
"""

import argparse
import io
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "attachments-bench-1"


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


def _flat_png(size) -> bytes:
    from PIL import Image

    # One colour: a few hundred kilobytes on the wire, 49 megapixels once decoded.
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 200, 190)).save(buffer, "PNG")
    return buffer.getvalue()


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _logged_in(base: str):
    import requests

    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    page = session.get(base + "/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = session.post(base + "/login", data={"csrf_token": token, "username": "student", "password": PASSWORD},
                          timeout=30, allow_redirects=False)
    assert answer.status_code == 302, answer.status_code
    return session


def _storm(base: str, reference: str, name: str, data: bytes, uploads: int, master: int) -> dict:
    """Post ``data`` from ``uploads`` clients at once while timing GET /login; return what was seen."""
    import requests

    sessions = [_logged_in(base) for _ in range(uploads)]
    forms = []
    for session in sessions:
        page = session.get(f"{base}/tickets/{reference}", timeout=30).text
        forms.append(re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1))
    outcomes: list[str] = []
    done = threading.Event()
    start = threading.Barrier(uploads + 1)

    def upload(session, token) -> None:
        start.wait()
        try:
            answer = session.post(f"{base}/tickets/{reference}/attachments", data={"csrf_token": token},
                                  files={"file": (name, data, "application/octet-stream")}, timeout=120)
            flash = re.search(r'<p class="flash flash-(\w+)">([^<]*)</p>', answer.text)
            outcomes.append(f"HTTP {answer.status_code}" if flash is None else
                            "attached" if flash.group(1) == "success" else f"refused: {flash.group(2)[:60]}")
        except requests.RequestException as error:
            outcomes.append(type(error).__name__)

    latencies: list[float] = []

    def get_login() -> None:
        began = time.perf_counter()
        try:
            requests.get(base + "/login", timeout=120).raise_for_status()
        finally:
            latencies.append(time.perf_counter() - began)

    def poll_login() -> None:
        # Open loop, one GET every 100 ms whatever the answers: a stall counts for its whole length.
        probes = []
        while not done.is_set():
            probes.append(threading.Thread(target=get_login))
            probes[-1].start()
            time.sleep(0.1)
        for probe in probes:
            probe.join(timeout=120)

    workers = _children(master)
    peak = [sum(_rss_kb(pid) for pid in workers)]

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], sum(_rss_kb(pid) for pid in workers))
            time.sleep(0.02)

    threads = [threading.Thread(target=upload, args=pair) for pair in zip(sessions, forms, strict=True)]
    watchers = [threading.Thread(target=poll_login), threading.Thread(target=sample)]
    for thread in threads + watchers:
        thread.start()
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join(timeout=180)
    wall = time.perf_counter() - began
    done.set()
    for thread in watchers:
        thread.join(timeout=180)
    time.sleep(3)
    counts = {outcome: outcomes.count(outcome) for outcome in sorted(set(outcomes))}
    return {
        "answers": counts, "wall_s": wall, "latencies": latencies, "peak_mb": peak[0] / 1024,
        "after_mb": sum(_rss_kb(pid) for pid in workers) / 1024,
        "hwm_mb": [round(_rss_kb(pid, "VmHWM") / 1024) for pid in workers],
    }


def serve(args) -> None:
    """Start gunicorn on the embedded default and send ``--uploads`` files at once, per file."""
    import requests

    root = Path(args.root).resolve()
    folder = Path(tempfile.mkdtemp(prefix="attachments-server-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "DATABASE_", "CELERY_"))}
    env.update(TRACKER_INSTANCE_PATH=str(folder / "instance"), PYTHONPATH=str(root),
               TRACKER_ATTACHMENTS_PER_OWNER_MAX="1000", TRACKER_BASE_URL=f"http://127.0.0.1:{args.port}")
    flask = [str(ROOT / ".venv/bin/flask"), "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade", "heads"], cwd=root, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "seed-demo", "--days", "1", "--password", PASSWORD], cwd=root, env=env, check=True,
                   capture_output=True)
    reference = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c",
         "from sqlalchemy import select\nfrom wsgi import app\nfrom tracker.extensions import db\n"
         "from tracker.models import Ticket, User\nfrom tracker.domain.workflow import FINAL_STATUSES\n"
         "with app.app_context():\n"
         "    user = db.session.execute(select(User).where(User.username == 'student')).scalar_one()\n"
         "    print(db.session.execute(select(Ticket.reference).where(Ticket.requester_id == user.id,"
         " Ticket.status.not_in(FINAL_STATUSES)).order_by(Ticket.id).limit(1)).scalar_one())"],
        cwd=root, env=env, check=True, capture_output=True, text=True).stdout.split()[-1]
    command = [str(ROOT / ".venv/bin/gunicorn"), "--workers", "2", "--threads", "4", "--bind",
               f"127.0.0.1:{args.port}", "--log-level", "warning", "wsgi:app"]
    server = subprocess.Popen(command, cwd=root, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{args.port}"
    files = {
        "7000 x 7000 PNG": ("flat.png", _flat_png((7000, 7000))),
        "12 MP phone JPEG": ("phone.jpg", _photo((4000, 3000), "JPEG", 6)),
    }
    try:
        for _ in range(150):
            try:
                if requests.get(base + "/login", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not answer within 30 s")
        print(f"code: {root}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{'file':18} {'size':>8} {'wall':>6} {'logins':>6} {'p50':>7} {'p95':>7} {'max':>7} "
              f"{'peak RSS':>9} {'3 s after':>9}  per-worker VmHWM, answers")
        for label, (name, data) in files.items():
            storms = [_storm(base, reference, name, data, args.uploads, server.pid) for _ in range(args.storms)]
            latencies = [x for storm in storms for x in storm["latencies"]]
            answers: dict[str, int] = {}
            for storm in storms:
                for what, count in storm["answers"].items():
                    answers[what] = answers.get(what, 0) + count
            figures = {
                "wall_s": max(storm["wall_s"] for storm in storms), "logins": len(latencies),
                "login_p50_ms": _percentile(latencies, 0.50) * 1000,
                "login_p95_ms": _percentile(latencies, 0.95) * 1000, "login_max_ms": max(latencies) * 1000,
                "peak_mb": max(storm["peak_mb"] for storm in storms), "after_mb": storms[-1]["after_mb"],
                "hwm_mb": storms[-1]["hwm_mb"],
            }
            answers = ", ".join(f"{count} {what}" for what, count in sorted(answers.items()))
            print(f"{label:18} {len(data) / 1e6:6.2f}MB {figures['wall_s']:5.1f}s {figures['logins']:6} "
                  f"{figures['login_p50_ms']:5.0f}ms {figures['login_p95_ms']:5.0f}ms {figures['login_max_ms']:5.0f}ms "
                  f"{figures['peak_mb']:7.0f}MB {figures['after_mb']:7.0f}MB  {figures['hwm_mb']} MB, {answers}")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("command:", shlex.join([".venv/bin/python", "benchmarks/attachments_bench.py", *sys.argv[1:]]))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--server", action="store_true", help="uploads at once on gunicorn, /login timed")
    parser.add_argument("--uploads", type=int, default=8, help="with --server: clients uploading at once")
    parser.add_argument("--storms", type=int, default=3, help="with --server: storms per file, figures pooled")
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--root", default=str(ROOT), help="with --server: the checkout to run")
    args = parser.parse_args()
    if args.server:
        serve(args)
        return

    from werkzeug.datastructures import FileStorage

    from tracker import create_app
    from tracker.services.requests import attachments

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
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
