"""Browser tests: Debian's Chromium, driven by Playwright, against ``labeler local`` with the real pipeline.

One ``labeler local`` process serves every test of the session; each test gets a fresh browser context,
so a fresh guest identity. Screenshots of each state go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from labeler.blueprint import REPO_ROOT
from tests.e2e.local_process import Running

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
#: Headless Chromium on a machine without a GPU or outside network (see DESIGN-NOTES, "Browser tests").
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
SITE = REPO_ROOT / "frontend" / "dist" / "index.html"
#: Upload, validation and labeling of one image, with room for a slow CI machine.
LABELED_WITHIN_MS = 30_000
#: Names the offline model gives the scikit-image photos (tests/e2e/test_upload_to_labels.py).
CAT_LABELS = re.compile("Tiger Cat|Tabby Cat|Egyptian Mau")
COFFEE_LABELS = re.compile("Espresso")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """``labeler local`` serving the built page (``make frontend``), found through its discovery file."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    if not SITE.is_file():
        pytest.fail(f"{SITE} is missing: build the page with `make frontend`")
    running = Running(tmp_path_factory.mktemp("browser") / "labeler-data")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url(site: Running) -> str:
    """pytest-playwright's: ``page.goto("/")`` opens the page that ``labeler local`` serves."""
    return str(site.discovery.web_url)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1200, "height": 900}}


@pytest.fixture(scope="session")
def photos(
    tmp_path_factory: pytest.TempPathFactory, public_domain_photos: dict[str, bytes]
) -> dict[str, Path]:
    """The cat as is (20 KB) and the coffee scaled up to a ~1 MB JPEG, under names that need encoding."""
    folder = tmp_path_factory.mktemp("photos")
    cat = folder / "Chelsea the cat.jpg"
    cat.write_bytes(public_domain_photos["cat"])
    coffee = Image.open(io.BytesIO(public_domain_photos["coffee"]))
    large = coffee.resize((coffee.width * 4, coffee.height * 4), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    large.save(buffer, format="JPEG", quality=98)
    assert 0.9e6 < len(buffer.getvalue()) < 1.3e6, "about 1 MB"
    big = folder / "café crème 1MB.jpg"
    big.write_bytes(buffer.getvalue())
    return {"cat": cat, "coffee": big}


class UploadPage:
    """The page under test, and every console error it logs (a test fails on any)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def open(self, path: str = "/") -> UploadPage:
        self.page.goto(path)
        expect(self.page.locator("body")).to_have_attribute("data-ready", "true")
        return self

    @property
    def picker(self) -> Locator:
        """The file input, found by its visible label (as a screen reader announces it)."""
        return self.page.get_by_label("Drop images here or choose files")

    def card(self, name: str) -> Locator:
        return self.page.locator(".card", has=self.page.get_by_role("heading", name=name, exact=True))

    def wait_for(self, card: Locator, phase: str, timeout_ms: float = LABELED_WITHIN_MS) -> None:
        expect(card).to_have_attribute("data-phase", phase, timeout=timeout_ms)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def drop(self, files: list[tuple[str, str, bytes]]) -> None:
        """Drop files (name, type, bytes) on the drop zone, as a drag from the desktop would."""
        self.page.evaluate(
            """files => {
                const transfer = new DataTransfer();
                for (const [name, type, bytes] of files) {
                    transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
                }
                document.getElementById("dropzone").dispatchEvent(
                    new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }""",
            [[name, content_type, list(data)] for name, content_type, data in files],
        )


@pytest.fixture
def upload_page(page: Page) -> Iterator[UploadPage]:
    wrapped = UploadPage(page)
    yield wrapped
    page.wait_for_timeout(100)  # late console messages
    assert wrapped.errors == [], "the page logged console errors"
