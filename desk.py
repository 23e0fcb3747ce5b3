#!/usr/bin/env python3
"""Set up and run the campus service desk, or its tests, with one command.

    python3 desk.py run     # web + Celery workers (notices, SLA) + beat on the embedded default
    python3 desk.py test    # the whole test suite (extra args go to pytest)
    python3 desk.py i18n    # re-extract the messages into the catalogues (docs/i18n.md)

Needs only Python 3.11+: the first run makes a virtual environment in
.venv/ and installs requirements*.txt into it (again whenever they change).
"""

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
CHROMIUM = "/usr/bin/chromium"


def say(message: str) -> None:
    print(f"[desk] {message}", flush=True)


def ensure_venv(*requirement_files: str) -> None:
    """Create .venv and install the requirement files when they changed."""
    # Run by whatever python3 the machine has: say so instead of failing later.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        say("creating the virtual environment in .venv/ …")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    digest = hashlib.sha256()
    for name in requirement_files:
        digest.update((ROOT / name).read_bytes())
    for name in ("requirements.txt",):
        digest.update((ROOT / name).read_bytes())
    stamp = VENV / f".installed-{'-'.join(Path(n).stem for n in requirement_files)}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    say(f"installing {', '.join(requirement_files)} (first run or changed) …")
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--upgrade", "--quiet", "pip"], check=False)
    args = [str(PYTHON), "-m", "pip", "install", "--quiet"]
    for name in requirement_files:
        args += ["-r", str(ROOT / name)]
    subprocess.run(args, check=True)
    stamp.write_text(digest.hexdigest())


TRANSLATIONS = ROOT / "tracker" / "translations"
POT = TRANSLATIONS / "messages.pot"


def compile_translations() -> None:
    """Compile every catalogue (.po) whose .mo is missing or older: the .mo files are not in git."""
    stale = [
        po for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        say("compiling the translations …")
        subprocess.run([str(BIN / "pybabel"), "-q", "compile", "-d", str(TRANSLATIONS)], cwd=ROOT, check=True)


def cmd_i18n(argv: list[str]) -> int:
    """Extract the messages, merge them into every catalogue, compile, and list what lacks a translation."""
    ensure_venv("requirements.txt")
    pybabel = str(BIN / "pybabel")
    subprocess.run([pybabel, "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "N_", "-k", "pN_:1c,2", "--sort-by-file",
                    "--project", "campus-service-desk", "-o", str(POT), "."], cwd=ROOT, check=True)
    # No fuzzy matching: a guessed translation of a new message is worse than none (the test finds none).
    subprocess.run([pybabel, "-q", "update", "-i", str(POT), "-d", str(TRANSLATIONS), "--no-fuzzy-matching",
                    "--ignore-obsolete", "-w", "100"], cwd=ROOT, check=True)
    subprocess.run([pybabel, "compile", "--statistics", "-d", str(TRANSLATIONS)], cwd=ROOT, check=True)
    say("translate the empty msgstr entries in tracker/translations/*/LC_MESSAGES/messages.po, then run this again")
    return 0


def flask(*args: str, env=None) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, check=True, env=env)


def cmd_run(argv: list[str]) -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    ensure_venv("requirements.txt")
    compile_translations()
    env = dict(os.environ)
    env.setdefault("TRACKER_BASE_URL", f"http://{host}:{port}")
    say("migrating the database …")
    flask("db", "upgrade", "heads", env=env)
    demo = seed_demo(env)
    _empty_metrics_folder(env)
    processes = {
        "web": [str(BIN / "gunicorn"), "--workers", "2", "--threads", "4", "--bind", f"{host}:{port}",
                "--access-logfile", "-", "wsgi:app"],
        "worker": [str(BIN / "celery"), "-A", "workers.celery_app", "worker", "--loglevel", "INFO",
                   "--queues", "celery", "--concurrency", "2", "--hostname", "notify@%h"],
        # The SLA sweep has a worker of its own: it never waits behind deliveries (docs/workers.md).
        "sla-worker": [str(BIN / "celery"), "-A", "workers.celery_app", "worker", "--loglevel", "INFO",
                       "--queues", "sla", "--concurrency", "1", "--hostname", "sla@%h"],
        "beat": [str(BIN / "celery"), "-A", "workers.celery_app", "beat", "--loglevel", "INFO"],
    }
    return supervise(processes, env, banner=lambda: _banner(host, port, demo),
                     login_url=f"http://{host}:{port}/login")


def _empty_metrics_folder(env: dict | None = None) -> None:
    """Start the figures at /metrics afresh: every process below writes its own files there (docs/operations.md).

    The folder is named by tracker.config, which imports the app's packages:
    asked of the virtual environment's Python, not of the one running desk.py
    (which has only the standard library).
    """
    subprocess.run(
        [str(BIN / "python"), "-c",
         "import shutil; from tracker.config import metrics_directory; "
         "shutil.rmtree(metrics_directory(), ignore_errors=True)"],
        cwd=ROOT, env=env, check=True,
    )


@dataclass
class Demo:
    """What ``flask seed-demo`` printed: the password (first run only) and the demo logins."""

    password: str | None = None
    # (username, role) of the showcase accounts, as the seed lists them.
    logins: list[tuple[str, str]] = field(default_factory=list)

    def read(self, line: str) -> None:
        if line.startswith("Password: "):
            self.password = line.split(":", 1)[1].strip()
        elif line.startswith("Demo login: "):
            username, _, role = line.removeprefix("Demo login: ").strip().partition(" — ")
            self.logins.append((username, role))


def seed_demo(env: dict) -> Demo:
    """Load demo data into an empty database; return what it printed (password on the first run only)."""
    process = subprocess.Popen(
        [str(BIN / "flask"), "--app", "wsgi", "seed-demo", "--if-empty"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )
    demo = Demo()
    for line in process.stdout:
        print(line, end="", flush=True)
        demo.read(line)
    if process.wait() != 0:
        raise SystemExit("loading the demo data failed (see above)")
    return demo


def banner_lines(host: str, port: str, demo: Demo) -> list[str]:
    """Return the lines shown once web, worker and beat are up: address, every demo login, password."""
    lines = ["", f"the campus service desk is running: open http://{host}:{port}/"]
    if demo.logins:
        width = max(len(username) for username, _ in demo.logins)
        lines.append("log in with a demo account:")
        lines += [f"  {username:<{width}}  {role}" for username, role in demo.logins]
        if demo.password:
            lines.append(f"password for all of them: {demo.password}")
            lines.append("(shown now only; a new one later: python3 desk.py demo-password)")
        else:
            lines.append("with the password shown on the first run;")
            lines.append("forgot it? python3 desk.py demo-password prints a new one")
    lines.append("press Ctrl-C to stop web, workers and beat")
    return lines


def _banner(host: str, port: str, demo: Demo) -> None:
    for line in banner_lines(host, port, demo):
        say(line)


# What a process prints once it is up: Celery's worker when it takes tasks,
# beat when its scheduler starts (both at INFO).
READY_LINES = {"worker": re.compile(r"\S+@\S+ ready\."), "beat": re.compile(r"beat: Starting")}
READY_TIMEOUT = 300


def _relay(name: str, stream, ready: threading.Event, pattern: re.Pattern | None) -> None:
    """Copy a child's output to ours line by line; set ``ready`` when ``pattern`` shows."""
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        if pattern is not None and not ready.is_set() and pattern.search(line):
            ready.set()
    stream.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def supervise(processes: dict[str, list[str]], env: dict, banner, *, login_url: str | None = None) -> int:
    """Start every process; stop them all on Ctrl-C or when one of them exits.

    ``banner`` runs once every process is up: ``login_url`` answers 200 for
    the web, Celery's ready line shows for workers and beat (or after
    READY_TIMEOUT seconds, naming those that are not).
    """
    children: dict[str, subprocess.Popen] = {}
    ready: dict[str, threading.Event] = {}
    stopping = False
    # Line by line through the pipe (gunicorn's access log is buffered otherwise).
    env = {**env, "PYTHONUNBUFFERED": "1"}

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for name, args in processes.items():
            # Own process group: Ctrl-C reaches us once, and we stop children in order.
            # Output through us: we see the ready lines, and the banner comes after them.
            children[name] = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True, text=True,
                                              errors="replace", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                              bufsize=1)
            ready[name] = threading.Event()
            kind = "beat" if "beat" in args else "worker" if "worker" in args else None
            if kind is None and (login_url is None or name != "web"):
                ready[name].set()
            threading.Thread(target=_relay, args=(name, children[name].stdout, ready[name], READY_LINES.get(kind)),
                             daemon=True).start()
            say(f"started {name} (pid {children[name].pid})")
        started = time.monotonic()
        shown = False
        failed = None
        while not stopping:
            if not shown:
                if login_url is not None and "web" in ready and not ready["web"].is_set() and _answers(login_url):
                    ready["web"].set()
                waiting = [name for name, event in ready.items() if not event.is_set()]
                if not waiting:
                    say(f"{', '.join(ready)}: up after {time.monotonic() - started:.0f} s")
                    banner()
                    shown = True
                elif time.monotonic() - started > READY_TIMEOUT:
                    say(f"still not up after {READY_TIMEOUT} s: {', '.join(waiting)}")
                    banner()
                    shown = True
            for name, child in children.items():
                if child.poll() is not None:
                    failed = name
                    stopping = True
                    say(f"{name} exited with code {child.returncode}; stopping the rest")
                    break
            time.sleep(0.5 if shown else 1)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for name, child in children.items():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                child.kill()
                child.wait()
        say("stopped")
    return 1 if failed else 0


def _missing_debian_packages(names: list[str]) -> list[str]:
    if not shutil.which("dpkg-query"):
        return names
    missing = []
    for name in names:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
        )
        if "install ok installed" not in result.stdout:
            missing.append(name)
    return missing


def ensure_chromium() -> bool:
    """Return whether Debian's Chromium is there, installing it where we may.

    The CJK fonts come along so that screenshots of Chinese pages show
    characters; without them the tests still run.
    """
    wanted = ["chromium", "fonts-noto-cjk"]
    missing = _missing_debian_packages(wanted) if shutil.which("apt-get") else []
    if missing and os.geteuid() == 0:
        say(f"installing Debian packages for the browser tests: {' '.join(missing)} …")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=False,
        )
    return Path(CHROMIUM).exists()


def ensure_slapd() -> None:
    """Install Debian's slapd and ldap-utils for the sign-on tests where we may (root).

    The tests start slapd themselves, on a loopback port with a temporary
    configuration; the Debian service it comes with is not used. Missing, the
    LDAP tests fail on CI and are skipped elsewhere (tests/servers/).
    """
    wanted = ["slapd", "ldap-utils"]
    missing = _missing_debian_packages(wanted) if shutil.which("apt-get") else []
    if missing and os.geteuid() == 0:
        say(f"installing Debian packages for the sign-on tests: {' '.join(missing)} …")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=False,
        )


def cmd_test(argv: list[str]) -> int:
    ensure_venv("requirements.txt", "requirements-dev.txt")
    compile_translations()
    ensure_slapd()
    args = [str(PYTHON), "-m", "pytest", *argv]
    if not ensure_chromium():
        if os.environ.get("CI"):
            say(f"the browser tests need {CHROMIUM} and it could not be installed; on CI they must run")
            return 2
        say(f"browser tests skipped: no {CHROMIUM}. Install it with: sudo apt-get install chromium")
        args += ["-m", "not browser"]
    say("running: " + " ".join(args[2:]))
    return subprocess.run(args, cwd=ROOT).returncode


def cmd_demo_password(argv: list[str]) -> int:
    ensure_venv("requirements.txt")
    flask("demo-password", *argv)
    return 0


COMMANDS = {"run": cmd_run, "test": cmd_test, "demo-password": cmd_demo_password, "i18n": cmd_i18n}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
