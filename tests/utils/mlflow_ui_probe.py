"""Run by the MLflow venv's Python (playwright lives there): open one run of the local MLflow UI in
headless Chromium (the system's), wait for its metric chart, save a screenshot, print what rendered.
Usage: mlflow_ui_probe.py <chromium> <ui url> <run name> <metric> <screenshot.png>"""

import json
import sys

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright


def main(chromium: str, url: str, run_name: str, metric: str, screenshot: str) -> None:
    seen: dict[str, object] = {"url": url}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(url, wait_until="domcontentloaded", timeout=180_000)
        try:
            page.get_by_text(run_name, exact=False).first.wait_for(timeout=180_000)
            seen["run_name_shown"] = True
            # the chart card is titled with the metric; its plot is an SVG drawn by plotly
            page.get_by_text(metric, exact=True).first.wait_for(timeout=180_000)
            seen["metric_title_shown"] = True
            page.locator(".js-plotly-plot .main-svg, svg.main-svg").first.wait_for(timeout=180_000)
            page.wait_for_timeout(2000)  # let the line animate in before the screenshot
            seen["plots"] = page.locator(".js-plotly-plot").count()
            seen["trace_paths"] = page.locator(".js-plotly-plot .scatterlayer path.js-line").count()
        except PlaywrightTimeout as error:
            seen["timeout"] = str(error).splitlines()[0]
        page.screenshot(path=screenshot, full_page=False)
        seen["title"] = page.title()
        browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:6])
