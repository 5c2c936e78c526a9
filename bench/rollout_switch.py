"""How long a promote or a rollback takes to reach every web process: a client hammers the
prediction endpoint with one fixed key while the lead switches versions through the services, and
each answer says which version gave it (`version`, the export's id) and, through the access log,
which worker process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hbench PRAKRIYA_DATA_DIR=/tmp/td-bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/rollout_switch.py [--switches 6]

Set-up through the platform's services and jobs: the digits split, an MLP trained by the training
job, its export with `quantise="dynamic"` (two versions: the fp32 export A and its int8 variant B),
a deployment of A and one key. Gunicorn as docker-compose.yml runs it (sync workers, --workers 3
unless --workers says otherwise), with one change: the access log's format names the worker's pid
and a request id the client sends (`X-Bench-Id`), so every answer can be tied to the process that
gave it. A web process reads a key's route (its deployment's versions and share) at most every
PRAKRIYA_PREDICT_ROUTE_SECONDS (0.2 s by default; deployments/wsgi.py), so a switch reaches a
process within that time after its commit, plus the wait for that process's next request.

The switches alternate, each with the other version than the key now gets:
- promote: a canary of the other version at 1%, chosen so that the key's sticky bucket lies
  outside it (the key keeps its version), then canary_promote: the key must move to the other;
- rollback: a canary of the other version at 99%, the key's bucket inside it (the key moves to
  the canary), then canary_rollback: the key must move back.
Timed from the moment the service call starts (t0) and from its return (commit): for each worker
process, when its first answer from the new version arrived; the switch time is the latest of
those (every process has switched), beside the last answer from the old version (requests already
in flight when it committed) and the count of old answers to requests sent after the commit (0
means no process served the old version once it was committed). Goal (the issue): within 1 s.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import deploy_setup as ds  # noqa: E402 - after the path is set

MLP_CONFIG = {"epochs": 5, "seed": 7}
GOAL_SECONDS = 1.0
ACCESS_FORMAT = "BENCH %(p)s %({x-bench-id}i)s %(s)s"


class Hammer:
    """Callers sending one prediction after another with the same key; every answer recorded as
    (request id, sent, received, version) on time.perf_counter's clock."""

    def __init__(self, *, port: int, path: str, key: str, body: bytes, callers: int) -> None:
        self.port, self.path, self.key, self.body = port, path, key, body
        self.records: list[tuple[str, float, float, int]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(callers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _loop(self) -> None:
        while not self._stop.is_set():
            ident = uuid.uuid4().hex[:12]
            sent = time.perf_counter()
            try:
                # A new connection each time: gunicorn's sync workers close it after every answer.
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", self.path, body=self.body, headers={
                    "Content-Type": "application/json", "X-Deployment-Key": self.key, "X-Bench-Id": ident})
                response = conn.getresponse()
                data = response.read()
                conn.close()
                received = time.perf_counter()
                if response.status != 200:
                    raise RuntimeError(response.status)
                version = json.loads(data)["version"]
            except Exception:  # noqa: BLE001 - counted, the hammer carries on
                with self._lock:
                    self.errors += 1
                continue
            with self._lock:
                self.records.append((ident, sent, received, version))

    def since(self, t: float) -> list[tuple[str, float, float, int]]:
        with self._lock:
            return [r for r in self.records if r[2] >= t]


def pids_by_request(log: Path) -> dict[str, str]:
    found = {}
    for pid, ident in re.findall(r"^BENCH <?(\d+)>? (\w+) \d+$", log.read_text(errors="replace"), re.M):
        found[ident] = pid
    return found


def worker_pids(log: Path) -> set[str]:
    return set(re.findall(r"^BENCH <?(\d+)>? \S+ \d+$", log.read_text(errors="replace"), re.M))


def key_fits(deployment, key, exports) -> bool:
    """The key's bucket lies outside a 1% canary and inside a 99% one, whichever version is the
    canary."""
    from deployments.serving import rollout

    caller = rollout.caller_pseudonym(deployment_id=deployment.pk, kind="key", ident=key.pk)
    for export in exports:
        b = rollout.bucket(deployment_id=deployment.pk, canary_id=export.pk, caller=caller)
        if not (1 * rollout.BUCKETS // 100 <= b < 99 * rollout.BUCKETS // 100):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--switches", type=int, default=6, help="switches, alternately promote and rollback")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--callers", type=int, default=12, help="concurrent callers of the hammer")
    parser.add_argument("--settle", type=float, default=1.5, help="seconds watched at least after each switch")
    args = parser.parse_args()
    ds.setup()
    from deployments import services
    from deployments.models import Deployment

    workdir = Path(tempfile.mkdtemp(prefix="prakriya-bench-rollout-"))
    print(f"machine: {ds.machine_facts()}")
    project, lead = ds.project_and_lead("rollout")
    version = ds.digits_version(project, lead)
    run = ds.trained_run(version, lead, trainer="mlp", config=MLP_CONFIG)
    fp32, variants = ds.exported(run, lead, quantise="dynamic")
    int8 = next(v for v in variants if v.variant == "int8-dynamic")
    deployment, key, secret = ds.deployment_with_key(project, lead, fp32)
    while not key_fits(deployment, key, (fp32, int8)):
        key, secret = services.key_create(deployment=deployment, actor=lead, name="bench")
    pixels = ds.validation_pixels(version, 1)
    body = json.dumps({"inputs": pixels}).encode()
    print(f"versions: A = export {fp32.pk} (fp32), B = export {int8.pk} (int8-dynamic); deployment starts on A")

    port = ds.free_port()
    log = workdir / "gunicorn.log"
    server = ds.start_gunicorn(port, log=log, workers=args.workers, extra=["--access-logformat", ACCESS_FORMAT])
    path = ds.predict_path(deployment)
    hammer = Hammer(port=port, path=path, key=secret, body=body, callers=args.callers)
    switches = []
    try:
        ds.wait_until_up(f"http://127.0.0.1:{port}{path}", process=server, headers={"X-Deployment-Key": secret})
        warm = ds.warm_workers(f"http://127.0.0.1:{port}{path}", body=json.loads(body),
                               headers={"X-Deployment-Key": secret}, workers=args.workers)
        while len(worker_pids(log)) < args.workers:  # every worker has answered at least once
            ds.post_json(f"http://127.0.0.1:{port}{path}", json.loads(body), {"X-Deployment-Key": secret})
        print(f"every worker warm after {warm:.1f} s")
        hammer.start()
        time.sleep(2.0)
        current, other = fp32, int8
        for i in range(args.switches):
            action = "promote" if i % 2 == 0 else "rollback"
            deployment = Deployment.objects.get(pk=deployment.pk)
            if action == "promote":
                services.canary_start(deployment=deployment, actor=lead, export=other, percent=1)
                expected = other
            else:
                services.canary_start(deployment=deployment, actor=lead, export=other, percent=99)
                expected = current
            time.sleep(1.0)
            before = hammer.since(time.perf_counter() - 0.5)
            seen_before = {r[3] for r in before}
            old = other.pk if action == "rollback" else current.pk
            deployment = Deployment.objects.get(pk=deployment.pk)
            t0 = time.perf_counter()
            if action == "promote":
                services.canary_promote(deployment=deployment, actor=lead, override_reason="benchmark switch")
            else:
                services.canary_rollback(deployment=deployment, actor=lead)
            committed = time.perf_counter()
            # Watched until every worker has given an answer since the commit (the kernel hands
            # connections to whichever idle worker it wakes, so a worker may go a while without
            # one), at least --settle seconds and at most 20.
            time.sleep(args.settle)
            while time.perf_counter() - committed < 20:
                pids = pids_by_request(log)
                answered = {pids.get(r[0]) for r in hammer.since(committed) if r[1] >= committed}
                if set(pids.values()) <= answered:
                    break
                time.sleep(0.2)
            switches.append({"action": action, "t0": t0, "committed": committed, "old": old, "new": expected.pk,
                             "seen_before": seen_before, "window_end": time.perf_counter()})
            if action == "promote":
                current, other = other, current
    finally:
        hammer.stop()
        ds.stop(server)

    pids = pids_by_request(log)
    all_pids = sorted(set(pids.values()))
    print(f"{len(hammer.records)} answers, {hammer.errors} errors, from {len(all_pids)} worker processes "
          f"(pids {' '.join(all_pids)}); {args.callers} callers; load average {ds.load_average()}")
    print(f"\n{'#':<3} {'action':<9} {'old->new':<9} {'service ms':>10} {'all workers, from t0 ms':>24} "
          f"{'from commit ms':>15} {'last old answer ms':>19} {'old after commit':>17}")
    worst = 0.0
    for n, s in enumerate(switches, 1):
        window = [r for r in hammer.records if s["t0"] <= r[2] <= s["window_end"]]
        first_new: dict[str, float] = {}
        for ident, _sent, received, ver in sorted(window, key=lambda r: r[2]):
            pid = pids.get(ident)
            if ver == s["new"] and pid and pid not in first_new:
                first_new[pid] = received
        missing = [pid for pid in all_pids if pid not in first_new]
        reach = (max(first_new.values()) - s["t0"]) if first_new and not missing else float("inf")
        reach_commit = (max(first_new.values()) - s["committed"]) if first_new and not missing else float("inf")
        old_answers = [r for r in window if r[3] == s["old"]]
        last_old = max((r[2] for r in old_answers), default=s["t0"]) - s["committed"]
        stale = sum(1 for r in old_answers if r[1] >= s["committed"])
        worst = max(worst, reach)
        assert s["old"] in s["seen_before"], f"switch {n}: the key did not get the old version before the switch"
        print(f"{n:<3} {s['action']:<9} {s['old']:>3}->{s['new']:<4} {1000 * (s['committed'] - s['t0']):10.1f} "
              f"{1000 * reach:24.1f} {1000 * reach_commit:15.1f} {1000 * max(0.0, last_old):19.1f} {stale:17d}"
              + (f"  (no new answer yet from {' '.join(missing)})" if missing else ""))
    print(f"\nmax over {len(switches)} switches: every worker answered with the new version "
          f"{1000 * worst:.1f} ms after the service call started; goal {GOAL_SECONDS:g} s -> "
          f"{'met' if worst <= GOAL_SECONDS else 'MISSED'}")
    print(f"log in {log}")


if __name__ == "__main__":
    main()
