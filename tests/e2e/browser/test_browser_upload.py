"""The upload page in Chromium: pick or drop images, watch them through the real pipeline, reload."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import Route, expect

from tests.e2e.browser.conftest import ARTIFACTS, CAT_LABELS, COFFEE_LABELS, UploadPage
from tests.e2e.local_process import Running

pytestmark = pytest.mark.integration

#: uploads/<Cognito identity id>/<32 random hex digits>.<ext>
UPLOAD_PATH = re.compile(r"/uploads/(us-east-1:[0-9a-f-]{36})/[0-9a-f]{32}\.jpg$")


def test_a_photo_is_uploaded_under_the_guest_prefix_and_labeled(
    upload_page: UploadPage, site: Running, photos: dict[str, Path]
) -> None:
    page = upload_page.open().page
    empty = page.get_by_text("No uploads yet.")
    expect(empty).to_be_visible()
    held: list[Route] = []
    # Hold the upload until the "uploading" state is on screen.
    page.route(re.compile(r"/uploads/"), lambda route: held.append(route))
    with page.expect_request(lambda request: request.method == "PUT") as sent:
        upload_page.picker.set_input_files(photos["cat"])
    card = upload_page.card("Chelsea the cat.jpg")
    upload_page.wait_for(card, "uploading", timeout_ms=5000)
    # Chromium may report the body sent before the held request is answered: any percentage.
    expect(card.locator(".status")).to_have_text(re.compile(r"^Uploading \d+%$"))
    expect(card.get_by_role("progressbar", name="Chelsea the cat.jpg")).to_be_visible()
    expect(empty).to_be_hidden()
    expect(card.get_by_role("img", name="Preview of Chelsea the cat.jpg")).to_be_visible()
    upload_page.screenshot("1-uploading")
    for _ in range(100):  # the route handler runs on Playwright's next event
        if held:
            break
        page.wait_for_timeout(50)
    (route,) = held
    route.continue_()
    page.unroute(re.compile(r"/uploads/"))

    upload_page.wait_for(card, "labeled")
    expect(card.locator(".status")).to_have_text("Labeled")
    expect(card.get_by_role("list", name="Labels of Chelsea the cat.jpg")).to_contain_text(CAT_LABELS)
    expect(card.locator(".facts")).to_contain_text("efficientnet-lite0-imagenet1k@")
    expect(card.locator(".facts")).to_contain_text(re.compile(r"Processing\s*[\d.]+ (ms|s)"))
    expect(page.locator("#announcer")).to_contain_text("Chelsea the cat.jpg: labeled")
    upload_page.screenshot("2-labeled")

    put = sent.value
    assert urlsplit(put.url).netloc == urlsplit(site.discovery.endpoint_url).netloc
    assert UPLOAD_PATH.search(unquote(urlsplit(put.url).path)), put.url
    assert put.headers["x-amz-meta-original-name"] == "Chelsea%20the%20cat.jpg"


def _with_an_instance(route: Route) -> None:
    """GetItem answers, with a bounding box added to the first label of a LABELED record.

    The offline model finds no instances (Rekognition does), so the box comes from here.
    """
    if not (route.request.headers.get("x-amz-target") or "").endswith(".GetItem"):
        route.continue_()
        return
    response = route.fetch()
    body = response.json()
    item = body.get("Item")
    if item and item["Status"]["S"] == "LABELED":
        box = {name: {"N": value} for name, value in BOX.items()}
        instance = {"M": {"BoundingBox": {"M": box}, "Confidence": {"N": "91.5"}}}
        item["Labels"]["L"][0]["M"]["Instances"] = {"L": [instance]}
    route.fulfill(response=response, body=json.dumps(body))


BOX = {"Left": "0.25", "Top": "0.1", "Width": "0.5", "Height": "0.8"}


def test_bounding_boxes_are_drawn_over_the_preview_where_the_record_puts_them(
    upload_page: UploadPage, site: Running, photos: dict[str, Path]
) -> None:
    page = upload_page.open().page
    page.route(lambda url: url.rstrip("/") == site.discovery.endpoint_url, _with_an_instance)
    upload_page.picker.set_input_files(photos["cat"])
    card = upload_page.card("Chelsea the cat.jpg")
    upload_page.wait_for(card, "labeled")
    box = card.locator(".box")
    expect(box).to_have_count(1)
    expect(box).to_have_attribute("title", CAT_LABELS)
    image = card.get_by_role("img", name="Preview of Chelsea the cat.jpg").bounding_box()
    drawn = box.bounding_box()
    assert image is not None and drawn is not None
    expected = {
        "x": image["x"] + float(BOX["Left"]) * image["width"],
        "y": image["y"] + float(BOX["Top"]) * image["height"],
        "width": float(BOX["Width"]) * image["width"],
        "height": float(BOX["Height"]) * image["height"],
    }
    assert drawn == pytest.approx(expected, abs=1.5)
    upload_page.screenshot("2b-bounding-box")


def test_a_file_that_is_no_image_is_rejected_with_the_reason(upload_page: UploadPage) -> None:
    upload_page.open()
    upload_page.drop([("notes.jpg", "image/jpeg", b"meeting notes, not a photo\n" * 10)])
    card = upload_page.card("notes.jpg")
    upload_page.wait_for(card, "rejected")
    expect(card.locator(".status")).to_have_text("Rejected")
    expect(card.locator(".detail")).to_have_text(
        "The file is not an image; only JPEG and PNG images can be labeled."
    )
    expect(upload_page.page.locator("#announcer")).to_contain_text("notes.jpg: rejected, The file is not")
    upload_page.screenshot("3-rejected")


def test_files_the_page_can_tell_are_wrong_are_never_sent(upload_page: UploadPage, tmp_path: Path) -> None:
    page = upload_page.open().page
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "PUT" else None)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7\n")
    (tmp_path / "empty.png").write_bytes(b"")
    # The picker is reachable by keyboard (what its chooser dialog does is the browser's business).
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "file-input":
            break
    expect(upload_page.picker).to_be_focused()
    upload_page.picker.set_input_files([tmp_path / "report.pdf", tmp_path / "empty.png"])
    pdf, empty = upload_page.card("report.pdf"), upload_page.card("empty.png")
    upload_page.wait_for(pdf, "refused", timeout_ms=5000)
    expect(pdf.locator(".detail")).to_have_text(
        "Only JPEG and PNG images can be labeled (this is application/pdf)."
    )
    upload_page.wait_for(empty, "refused", timeout_ms=5000)
    expect(empty.locator(".detail")).to_have_text("The file is empty.")
    upload_page.screenshot("4-refused-before-upload")
    assert sent == []


def test_my_uploads_survive_a_reload(upload_page: UploadPage, photos: dict[str, Path]) -> None:
    """The ~1 MB JPEG: the time from drop to labels on screen is written to test-artifacts."""
    page = upload_page.open().page
    name = "café crème 1MB.jpg"
    started = time.perf_counter()
    upload_page.picker.set_input_files(photos["coffee"])
    card = upload_page.card(name)
    upload_page.wait_for(card, "labeled")
    expect(card.locator(".labels")).to_contain_text(COFFEE_LABELS)
    elapsed_s = time.perf_counter() - started
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = photos["coffee"].stat().st_size
    (ARTIFACTS / "drop-to-labels.txt").write_text(
        f"{size} byte JPEG: labels on screen {elapsed_s:.2f} s after it was picked\n"
    )

    upload_page.open()
    card = upload_page.card(name)
    expect(card).to_have_attribute("data-phase", "labeled")
    expect(card.locator(".labels")).to_contain_text(COFFEE_LABELS)
    expect(card.get_by_role("img", name=f"Preview of {name}")).to_be_visible()
    expect(page.locator(".card")).to_have_count(1)
    upload_page.screenshot("5-after-reload")
