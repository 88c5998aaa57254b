#!/usr/bin/python3
"""The execution history page under load (issue 19, "Performance"): N executions in the store, then a stream of
new ones at RATE a second while the page is open in headless Chromium. Reports how long the page took to show the
first page, the main thread's long tasks (> 50 ms) and frame intervals while the updates arrive, how many rows the
table holds, and when the last execution created appears.

    bench/web_history.py [--squall build/squall] [--executions 10000] [--rate 100] [--seconds 10]

Starts its own `squall server` (temp data dir, embedded Redis, free port); needs chromium, chromium-driver and
python3-selenium (deploy/deps.sh). The executions are core.noop (no process per run). Also prints the first load
of `/` in a fresh browser profile: bytes transferred and when the login form was usable.
"""
import argparse
import concurrent.futures
import os
import sys
import tempfile
import shutil
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'web'))
import ui_test  # noqa: E402  (the server and browser set-up of the browser test)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


def run_noop(server):
    return server.api('POST', '/executions', {'action': 'core.noop', 'parameters': {}})['id']


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--squall', default=os.environ.get('SQUALL_BIN', os.path.join(ROOT, 'build', 'squall')))
    p.add_argument('--executions', type=int, default=10000)
    p.add_argument('--rate', type=int, default=100)
    p.add_argument('--seconds', type=int, default=10)
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix='squall-web-bench-')
    server = driver = None
    try:
        server = ui_test.Server(args.squall, work)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: run_noop(server), range(args.executions)))
        print(f'seeded {args.executions} executions in {time.monotonic() - started:.1f} s')

        driver = ui_test.browser(work)
        driver.get(server.base + '/')
        ui_test.wait_for('the load event', lambda: driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].loadEventEnd > 0"))
        first = ui_test.first_load_bytes(driver)
        print(f'first load of /: {first["transfer"]} bytes transferred in {first["files"]} files; DOM interactive '
              f'at {first["interactive_ms"]:.0f} ms, the login form usable at {first["ready_ms"]:.0f} ms, first '
              f'contentful paint at {first["paint_ms"]:.0f} ms, loaded at {first["loaded_ms"]:.0f} ms')
        ui_test.wait_for('the key field', lambda: driver.find_element(By.ID, 'login-key')).send_keys(
            server.key, Keys.ENTER)
        t0 = time.monotonic()
        ui_test.wait_for('the first page', lambda: len(driver.find_elements(By.CSS_SELECTOR, '#executions tr')) >= 50)
        print(f'history: first page of 50 shown {1000 * (time.monotonic() - t0):.0f} ms after login '
              f'({driver.find_element(By.CLASS_NAME, "pagerow").text.splitlines()[0]})')
        ui_test.wait_for('live', lambda: 'live' in driver.find_element(By.CLASS_NAME, 'live').text)
        driver.execute_script("""
            window.__long = []; window.__frames = [];
            new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
              .observe({type: 'longtask', buffered: false});
            let last = performance.now();
            (function tick(t) { window.__frames.push(t - last); last = t; requestAnimationFrame(tick); })(last);""")

        stop = threading.Event()
        made = []

        def load():
            interval = 1.0 / args.rate
            next_at = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                while not stop.is_set():
                    pool.submit(lambda: made.append(run_noop(server)))
                    next_at += interval
                    time.sleep(max(0.0, next_at - time.monotonic()))
        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(args.seconds)
        stop.set()
        loader.join()
        last = made[-1]
        t1 = time.monotonic()
        # The POSTs run concurrently: the last to answer is among the newest, not necessarily the very first row.
        ui_test.wait_for('the last execution created on the first page', lambda: driver.find_elements(
            By.CSS_SELECTOR, f'#executions tr[data-id="{last}"]'), timeout=30)
        settle = time.monotonic() - t1
        stats = driver.execute_script("""
            const f = window.__frames.slice(1).sort((a, b) => a - b);
            const q = (p) => f.length ? f[Math.min(f.length - 1, Math.floor(p * f.length))] : 0;
            return {long: window.__long, frames: f.length, p50: q(0.5), p99: q(0.99), max: f[f.length - 1] || 0,
                    rows: document.querySelectorAll('#executions tr').length};""")
        long = stats['long']
        print(f'updates: {len(made)} executions created in {args.seconds} s ({len(made) / args.seconds:.0f}/s, each '
              f'a create and 2-3 updates on the stream); the last one shown {settle * 1000:.0f} ms after its POST answered')
        print(f'main thread: {len(long)} long tasks (> 50 ms), longest {max(long) if long else 0:.0f} ms; '
              f'{stats["frames"]} frames, interval p50 {stats["p50"]:.1f} ms, p99 {stats["p99"]:.1f} ms, '
              f'max {stats["max"]:.1f} ms; {stats["rows"]} rows in the table')
    finally:
        if driver:
            driver.quit()
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
