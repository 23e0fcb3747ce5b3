"""Two versions of the code, the same pages, taken in turn: wall and CPU time per request (issue 21).

    .venv/bin/python benchmarks/overview_ab.py --database-url URL --tree old=/tmp/old --tree new=. \
        --page /dashboard --page /dashboard/definitions --turns 4 --rounds 10
    # the same code on two databases that differ only in their indexes:
    .venv/bin/python benchmarks/overview_ab.py --database-url URL --tree-database old=URL_OLD --tree old=. --tree new=. ...

On a machine shared with other busy processes, timings taken minutes apart
compare two loads, not two versions. Here each tree serves ``--rounds``
requests of every page in a fresh process (``dashboard_bench._time_get``:
the real app through Flask's test client, logged in as leadership), and the
trees take turns ``--turns`` times, so both see the same load. Reported per
tree and page: p50 and p95 of every request, and the CPU a request used
(this process's and the database server's backends'), the figure closest to
an idle machine's. A tree is any checkout of the app (``git worktree add`` or
``git archive``) whose schema the database has.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path


def child(tree: str, url: str, pages: list[str], rounds: int) -> dict:
    sys.path.insert(0, tree)
    sys.path.insert(0, str(Path(tree) / "benchmarks"))
    import dashboard_bench as bench

    bench.isolate_environment()
    app = bench.make_app(url)
    _count_now(app)
    bench.set_passwords(url, ["leader1"])
    client = bench.login(app, "leader1")
    result = {}
    for page in pages:
        timed = bench._time_get(client, page, rounds, url)
        result[page] = {"times": timed.pop("times"), **timed}
    return result


def _count_now(app) -> None:
    """Count the stored "now" figures as beat does every minute, in a tree that keeps them (issue 21, nowsnap).

    A tree without them (before) counts live on every request. The turn's
    requests then read counts a few seconds old, as pages do between two of
    beat's counts; the count itself is measured apart (docs/dashboards.md).
    """
    try:
        from tracker.services.insight import now_counts
    except ImportError:
        return
    from tracker.clock import utcnow
    from tracker.extensions import db

    with app.app_context():
        now_counts.recount(utcnow())
        db.session.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tree", action="append", default=[], help="name=path of a checkout")
    parser.add_argument("--tree-database", action="append", default=[],
                        help="name=URL: that tree's own database (a copy differing only in indexes, say)")
    parser.add_argument("--page", action="append", required=True)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(child(options.child, options.database_url, options.page, options.rounds)))
        return
    trees = dict(t.split("=", 1) for t in options.tree)
    databases = dict(t.split("=", 1) for t in options.tree_database)
    kept: dict[str, dict[str, dict]] = {name: {} for name in trees}
    loads = []
    for _ in range(options.turns):
        for name, path in trees.items():
            loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
            url = databases.get(name, options.database_url)
            command = [sys.executable, __file__, "--database-url", url, "--child",
                       str(Path(path).resolve()), "--rounds", str(options.rounds)]
            for page in options.page:
                command += ["--page", page]
            answer = subprocess.run(command, capture_output=True, text=True, check=True, cwd=path,
                                    env={**os.environ, "PYTHONPATH": ""})
            for page, timed in json.loads(answer.stdout.strip().splitlines()[-1]).items():
                into = kept[name].setdefault(page, {"times": [], "cpu": [], "server_cpu": []})
                into["times"] += timed["times"]
                into["cpu"].append(timed["cpu"])
                into["server_cpu"].append(timed["server_cpu"])
    print(f"load (1 min) at each turn: {min(loads):.1f}-{max(loads):.1f}")
    print("| tree | page | n | p50 ms | p95 ms | CPU ms a request (server) |")
    print("|---|---|---|---|---|---|")
    for name in trees:
        for page, f in kept[name].items():
            times = sorted(f["times"])
            p95 = times[max(0, -(-95 * len(times) // 100) - 1)]
            print(f"| {name} | {page} | {len(times)} | {statistics.median(times):.1f} | {p95:.1f} "
                  f"| {statistics.mean(f['cpu']):.1f} ({statistics.mean(f['server_cpu']):.1f}) |")


if __name__ == "__main__":
    main()
