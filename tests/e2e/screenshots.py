"""Screenshots of a running dashboard for the README and docs/dashboard.md, in
Norwegian: ``python -m tests.e2e.screenshots http://127.0.0.1:8000`` against the
``make run`` stack (Debian's chromium, Playwright for Python)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.repo import REPO

DEVICE = "sl-0001"  # a street light of the simulated town


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help="the dashboard, e.g. http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder (docs/)")
    parser.add_argument("--device", default=DEVICE, help=f"device page to show ({DEVICE})")
    parser.add_argument(
        "--pages",
        choices=["all", "dashboard", "public"],
        default="all",
        help="the dashboard's pictures, the public page's (docs/public-phone.png), or both",
    )
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    url = args.url.rstrip("/")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        if args.pages in ("all", "public"):
            _public(browser, url, args.out)
        if args.pages == "public":
            browser.close()
            print(f"screenshots written to {args.out}")
            return 0
        laptop = browser.new_page(viewport={"width": 1280, "height": 720}, locale="nb-NO")
        laptop.goto(f"{url}/#/")
        laptop.wait_for_selector("#view[data-ready]")
        laptop.locator(".device-marker, .cluster").first.wait_for()
        laptop.wait_for_function(
            "!['…', '–'].includes(document.querySelector('[data-figure=rate]').textContent)",
            timeout=30000,
        )
        laptop.screenshot(path=args.out / "dashboard-overview.png")
        laptop.goto(f"{url}/#/device/{args.device}")
        laptop.wait_for_selector("#view[data-ready]")
        laptop.wait_for_function("Number(document.querySelector('.chart')?.dataset.points) > 0")
        laptop.wait_for_timeout(500)  # the last live reading drawn
        laptop.screenshot(path=args.out / "dashboard-device.png")
        phone = browser.new_page(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="nb-NO"
        )
        phone.goto(f"{url}/#/alerts")
        phone.wait_for_selector("#view[data-ready]")
        phone.screenshot(path=args.out / "dashboard-inbox-phone.png")
        browser.close()
    print(f"screenshots written to {args.out}")
    return 0


def _public(browser: Any, url: str, out: Path) -> None:
    """The public page on a phone, as a resident opens it (no key)."""
    phone = browser.new_page(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="nb-NO"
    )
    phone.goto(f"{url}/public")
    phone.wait_for_selector("#main[data-ready]")
    phone.screenshot(path=out / "public-phone.png")
    phone.close()


if __name__ == "__main__":
    sys.exit(main())
