"""Page weight (issue 16): how long the demo's pages take to be fully loaded in headless Chromium,
on loopback, for one or more checkouts of the platform side by side.

For each checkout it starts that checkout's own `manage.py serve` (as `make run` does: web server
and worker; whatever that command does before starting, collectstatic included, counts as start-up,
not as page time) on one data folder seeded with the demo, then times, as an anonymous visitor:

- the project page, first visit: a fresh browser context (empty cache), from navigation to the
  load event with every chart drawn;
- the project page, repeat visit: the same context, navigated to again;
- every other page the project page links to inside the project, plus the directory, each a first
  visit in a fresh context.

Each figure is the median of --repeat runs. Goal of the issue: first visit under 1 s, repeat visit
under 300 ms, no page over 1 s. Figures are measured here, never asserted in the test suite.

    .venv/bin/python bench/page_load.py [--data-dir /tmp/prakriya-bench] [--repeat 5] \\
        [CHECKOUT ...]        # default: this checkout; e.g. /work/main .  (before, after)

The data folder is seeded once (seed_demo, seed_demo_datasets, seed_demo_campaign,
seed_demo_process: about 2.5 minutes) and reused; each checkout gets its own STATIC_ROOT in it.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SEEDS = ["seed_demo", "seed_demo_datasets", "seed_demo_campaign", "seed_demo_process"]
PROJECT = "/projects/handwritten-digits/"  # the demo's public project
MAX_PAGES = 14
CHARTS_DRAWN = """() => [...document.querySelectorAll("script[data-plotly-for]")].every((node) => {
  const target = document.getElementById(node.getAttribute("data-plotly-for"));
  return !target || target.classList.contains("js-plotly-plot");
})"""


def environment(checkout: Path, data_dir: Path, label: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(PYTHONPATH=str(checkout), PRAKRIYA_DATA_DIR=str(data_dir),
               STATIC_ROOT=str(data_dir / f"static-{label}"), DJANGO_SETTINGS_MODULE="prakriya.settings")
    return env


def manage(checkout: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=checkout, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def seed(checkout: Path, data_dir: Path) -> None:
    marker = data_dir / "bench-seeded"
    if marker.exists():
        return
    env = environment(checkout, data_dir, "seed")
    print(f"Seeding the demo into {data_dir} (once)...", flush=True)
    manage(checkout, env, "migrate", "--noinput")
    for command in SEEDS:
        manage(checkout, env, command)
    marker.touch()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(checkout: Path, data_dir: Path, label: str) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    began = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=checkout,
        env=environment(checkout, data_dir, label), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            urllib.request.urlopen(base + "/", timeout=2)  # noqa: S310 (loopback)
            return server, base, time.perf_counter() - began
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"{checkout}: manage.py serve exited ({server.returncode})") from None
            time.sleep(0.25)
    stop(server)
    raise SystemExit(f"{checkout}: the server did not answer within 5 minutes")


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def visit(page, url: str) -> tuple[float, float]:
    """Seconds until the page is fully loaded (load event, every chart drawn), and until its
    text was first painted (first-contentful-paint, from the browser's own timeline)."""
    began = time.perf_counter()
    response = page.goto(url, wait_until="load")
    if response is None or not response.ok:
        raise SystemExit(f"{url}: {response.status if response else 'no response'}")
    page.wait_for_function(CHARTS_DRAWN, timeout=30_000)
    loaded = time.perf_counter() - began
    painted = page.evaluate(
        "() => (performance.getEntriesByName('first-contentful-paint')[0] || {startTime: NaN}).startTime")
    return loaded, painted / 1000


def measure(browser, base: str, repeat: int) -> dict[str, float]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + PROJECT)
    links = page.eval_on_selector_all(
        f'main a[href^="{PROJECT}"]', "nodes => nodes.map((n) => n.getAttribute('href'))")
    context.close()
    pages = ["/"] + list(dict.fromkeys(h.split("#")[0] for h in links if h.split("#")[0] != PROJECT))
    pages = [p for p in pages if not p.endswith(("/download/", "/export/"))][:MAX_PAGES]
    # One untimed pass: the server's own first-request work (imports, its caches) is not what a
    # browser's first visit is about.
    context = browser.new_context()
    page = context.new_page()
    for path in [PROJECT, *pages]:
        visit(page, base + path)
    context.close()
    samples: dict[str, list[float]] = {}

    def record(name: str, timings: tuple[float, float]) -> None:
        samples.setdefault(name, []).append(timings[0])
        samples.setdefault(f"{name}: text painted", []).append(timings[1])

    for _ in range(repeat):
        context = browser.new_context()
        page = context.new_page()
        record("project page, first visit", visit(page, base + PROJECT))
        record("project page, repeat visit", visit(page, base + PROJECT))
        context.close()
        for path in pages:
            context = browser.new_context()
            samples.setdefault(path, []).append(visit(context.new_page(), base + path)[0])
            context.close()
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="*", type=Path, default=[Path(__file__).resolve().parents[1]])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/prakriya-bench"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    checkouts = [c.resolve() for c in args.checkouts]
    args.data_dir.mkdir(parents=True, exist_ok=True)
    seed(checkouts[-1], args.data_dir)
    results: list[dict[str, float]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for index, checkout in enumerate(checkouts):
            server, base, startup = start(checkout, args.data_dir, f"{index}-{checkout.name}")
            try:
                print(f"{checkout}: serving after {startup:.1f} s", flush=True)
                results.append(measure(browser, base, args.repeat))
            finally:
                stop(server)
        browser.close()
    names = list(dict.fromkeys(name for result in results for name in result))
    width = max(len(n) for n in names)
    print(f"\nmedian of {args.repeat}, seconds until the load event with every chart drawn "
          "(': text painted': until the first contentful paint)")
    print(f"{'page':<{width}}  " + "  ".join(f"{c.name or str(c):>12}" for c in checkouts)
          + ("  ratio" if len(results) == 2 else ""))
    for name in names:
        cells = [result.get(name) for result in results]
        line = f"{name:<{width}}  " + "  ".join(f"{v:12.3f}" if v is not None else f"{'–':>12}" for v in cells)
        if len(results) == 2 and all(cells):
            line += f"  {cells[0] / cells[1]:5.1f}×"
        print(line)


if __name__ == "__main__":
    main()
