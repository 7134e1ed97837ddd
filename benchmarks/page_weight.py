"""Page weight and load time of a built site's pages in Chromium (Playwright), served locally.

    python benchmarks/page_weight.py public leaderboard.html index.html

Prints, per page: HTML bytes, total bytes of every response the page loads (as served here, and gzip-compressed as
GitHub Pages serves text), request count and the load time (navigation start -> load event) over 5 cold loads (fresh
browser context each time).
"""

from __future__ import annotations

import functools
import gzip
import http.server
import statistics
import sys
import threading
from pathlib import Path


def main(site: Path, pages: list[str], repeats: int = 5) -> None:
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        for page in pages:
            times, total, count = [], 0, 0
            for _ in range(repeats):
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                tab = ctx.new_page()
                sizes: list[int] = []
                zipped: list[int] = []

                def done(r, sizes=sizes, zipped=zipped) -> None:
                    sizes.append(r.sizes()["responseBodySize"])
                    resp = r.response()
                    zipped.append(len(gzip.compress(resp.body(), 6)) if resp else 0)
                tab.on("requestfinished", done)
                tab.goto(f"{base}/{page}", wait_until="load")
                tab.wait_for_load_state("networkidle")
                times.append(tab.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000)
                total, count, total_gz = sum(sizes), len(sizes), sum(zipped)
                ctx.close()
            html_kb = (site / page.split("?")[0]).stat().st_size / 1024
            print(f"{page}: HTML {html_kb:.0f} KB, total {total / 1024 / 1024:.2f} MB ({total_gz / 1024:.0f} KB gzip) in {count} requests, "
                  f"load {min(times):.2f}-{max(times):.2f} s (median {statistics.median(times):.2f} s, {repeats} cold loads)")
        browser.close()
    httpd.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:] or ["leaderboard.html"])
