"""The report as a PDF: the HTML page printed by headless Chromium (its print rules give the
page headers, whole frames and the configuration on the last page)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from fp.errors import FPError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""Executables tried, in order, to print the page."""
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--no-pdf-header-footer")
"""Offline, without the browser's own header and footer (the page draws its own)."""
PRINT_TIMEOUT = 180.0
"""Seconds Chromium may take to print one report."""


def find_browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def html_to_pdf(html: str, target: str | Path) -> Path:
    """Print `html` to the PDF file `target`; FPError (one line) when it cannot be done."""
    target = Path(target)
    browser = find_browser()
    if browser is None:
        raise FPError(f"{target}: a PDF report needs Chromium (headless print-to-PDF); install it "
                      "(Debian/Ubuntu: apt-get install chromium) or write .html")
    with tempfile.TemporaryDirectory(prefix="fp-pdf-") as tmp:
        page, printed = Path(tmp, "report.html"), Path(tmp, "report.pdf")
        page.write_text(html, encoding="utf-8")
        cmd = [browser, *BROWSER_FLAGS, f"--user-data-dir={Path(tmp, 'profile')}", f"--print-to-pdf={printed}",
               page.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=PRINT_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise FPError(f"{target}: Chromium did not print the report within {PRINT_TIMEOUT:.0f} s") from None
        if done.returncode != 0 or not printed.is_file() or printed.stat().st_size == 0:
            said = [line for line in done.stderr.splitlines() if line.strip()]
            raise FPError(f"{target}: Chromium could not print the report (exit {done.returncode}"
                          + (f": {said[-1].strip()[:300]})" if said else ")"))
        shutil.copyfile(printed, target)
    return target
