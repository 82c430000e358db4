"""Deleting an upload from its card: DeleteObject with the guest's credentials, then the backend's cleanup
(S3 "Object Deleted" -> tombstone + every version removed) takes the card off the page for good."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import Request, Route, expect

from tests.e2e.browser.conftest import UploadPage
from tests.e2e.local_process import Running

pytestmark = pytest.mark.integration

NAME = "Chelsea the cat.jpg"
#: The cleanup follows the delete through EventBridge and a Lambda: seconds, with room for slow CI.
DELETED_WITHIN_MS = 30_000
#: What Chromium logs for a response the test forced to fail (the page itself logs nothing).
FORCED_FAILURE = re.compile(r"Failed to load resource|net::ERR_FAILED")


def _is_delete(request: Request) -> bool:
    return request.method == "DELETE" and "/uploads/" in unquote(request.url)


def _upload_and_label(upload_page: UploadPage, photo: Path) -> str:
    """Upload the photo, wait for its labels; the object key it was uploaded under."""
    page = upload_page.page
    with page.expect_request(lambda request: request.method == "PUT") as sent:
        upload_page.picker.set_input_files(photo)
    upload_page.wait_for(upload_page.card(NAME), "labeled")
    path = unquote(urlsplit(sent.value.url).path)
    return path[path.index("/uploads/") + 1 :]


def _record(site: Running, key: str) -> dict[str, Any] | None:
    owner = key.split("/")[1]
    item = site.client("dynamodb").get_item(
        TableName=site.discovery.results_table,
        Key={"Owner": {"S": owner}, "ImageName": {"S": key}},
        ConsistentRead=True,
    )
    record: dict[str, Any] | None = item.get("Item")
    return record


def _versions(site: Running, key: str) -> list[dict[str, Any]]:
    listing = site.client("s3").list_object_versions(Bucket=site.discovery.upload_bucket, Prefix=key)
    return [
        entry
        for entry in listing.get("Versions", []) + listing.get("DeleteMarkers", [])
        if entry["Key"] == key
    ]


def test_delete_removes_the_card_the_object_versions_and_the_record(
    upload_page: UploadPage, site: Running, photos: dict[str, Path]
) -> None:
    """Nothing is routed: Chromium sends the DeleteObject's CORS pre-flight to `labeler local` itself,
    and the DELETE only once the upload bucket's CORS rule allows it (answered as S3 does: hooks.s3)."""
    page = upload_page.open().page
    key = _upload_and_label(upload_page, photos["cat"])
    card = upload_page.card(NAME)
    assert _versions(site, key), "the upload is in the bucket"

    deletes: list[Request] = []
    page.on("request", lambda request: deletes.append(request) if _is_delete(request) else None)
    button = card.get_by_role("button", name=f"Delete {NAME}")
    expect(button).to_be_visible()
    with page.expect_response(lambda response: _is_delete(response.request)) as answer:
        button.click(click_count=2)  # a double click sends one delete
    assert answer.value.status == 204, answer.value.status

    expect(card).to_have_count(0, timeout=DELETED_WITHIN_MS)
    expect(page.get_by_text("No uploads yet.")).to_be_visible()
    expect(page.locator("#announcer")).to_have_text(f"{NAME}: deleted")
    assert len(deletes) == 1, [request.url for request in deletes]
    record = _record(site, key)
    assert record is None or record["Status"]["S"] == "DELETED", record
    if record is not None:
        assert record.get("Labels", {"L": []}) == {"L": []}, record
        assert "OriginalName" not in record and "ExpiresAt" in record, record
    # The cleanup removes the versions after it writes the tombstone: allow it a moment.
    deadline = time.monotonic() + 10
    while _versions(site, key) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _versions(site, key) == [], "no version or delete marker is left"

    upload_page.open()  # after a reload the upload stays gone
    expect(upload_page.card(NAME)).to_have_count(0)
    expect(page.get_by_text("No uploads yet.")).to_be_visible()
    upload_page.screenshot("7-deleted")


def test_a_delete_on_its_way_shows_deleting_and_sends_no_second_one(
    upload_page: UploadPage, photos: dict[str, Path]
) -> None:
    page = upload_page.open().page
    _upload_and_label(upload_page, photos["cat"])
    card = upload_page.card(NAME)
    button = card.get_by_role("button", name=f"Delete {NAME}")
    deletes: list[Request] = []
    page.on("request", lambda request: deletes.append(request) if _is_delete(request) else None)

    # Routed to hold the DELETE while the card is looked at and clicked again: the only reason to route
    # it (Playwright then answers its CORS pre-flight itself, so the test above is the one that shows
    # `labeler local` answers it).
    held: list[Route] = []
    page.route(
        re.compile(r"/uploads/"),
        lambda route: held.append(route) if _is_delete(route.request) else route.continue_(),
    )
    button.click(click_count=2)
    expect(card.locator(".status")).to_have_text("Deleting…")
    expect(card).to_have_attribute("aria-busy", "true")
    expect(button).to_have_attribute("aria-disabled", "true")
    button.click(force=True)  # a click while it is on its way sends nothing either
    upload_page.screenshot("6-deleting")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    page.unroute(re.compile(r"/uploads/"))
    expect(card).to_have_count(0, timeout=DELETED_WITHIN_MS)
    assert len(deletes) == 1, [request.url for request in deletes]


def test_a_failed_delete_keeps_the_card_says_why_and_can_be_tried_again(
    upload_page: UploadPage, site: Running, photos: dict[str, Path]
) -> None:
    page = upload_page.open().page
    key = _upload_and_label(upload_page, photos["cat"])
    card = upload_page.card(NAME)
    button = card.get_by_role("button", name=f"Delete {NAME}")
    message = card.get_by_role("alert")

    denied = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        "<Message>Access Denied</Message></Error>"
    )
    # Routed to make the DELETE fail (refused, then unreachable), which `labeler local` would not do.
    page.route(
        re.compile(r"/uploads/"),
        lambda route: (
            route.fulfill(status=403, content_type="application/xml", body=denied)
            if _is_delete(route.request)
            else route.continue_()
        ),
    )
    button.click()
    expect(message).to_have_text(re.compile(r"^Not deleted: access denied.*Nothing was removed"))
    expect(card).to_have_attribute("data-phase", "labeled")
    expect(card.locator(".status")).to_have_text("Labeled")
    expect(button).to_have_attribute("aria-disabled", "false")
    expect(page.locator("#announcer")).to_contain_text(f"{NAME}: Not deleted: access denied")
    upload_page.screenshot("8-delete-denied")
    page.unroute(re.compile(r"/uploads/"))

    page.route(
        re.compile(r"/uploads/"),
        lambda route: route.abort() if _is_delete(route.request) else route.continue_(),
    )
    button.click()
    expect(message).to_have_text(re.compile(r"^Not deleted: the storage service could not be reached"))
    expect(button).to_have_attribute("aria-disabled", "false")
    page.unroute(re.compile(r"/uploads/"))

    assert _versions(site, key), "nothing was deleted"
    record = _record(site, key)
    assert record is not None and record["Status"]["S"] == "LABELED"
    upload_page.errors[:] = [error for error in upload_page.errors if not FORCED_FAILURE.search(error)]


def test_my_uploads_never_lists_a_deleted_tombstone(upload_page: UploadPage, site: Running) -> None:
    """A tombstone of this guest (its newest record, as a fresh one is) stays off the page."""
    page = upload_page.page
    with page.expect_response(
        lambda response: (response.request.headers.get("x-amz-target") or "").endswith(".GetId")
    ) as answer:
        upload_page.open()
    owner = answer.value.json()["IdentityId"]
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    site.client("dynamodb").put_item(
        TableName=site.discovery.results_table,
        Item={
            "Owner": {"S": owner},
            "ImageName": {"S": f"uploads/{owner}/{'0' * 32}.jpg"},
            "Status": {"S": "DELETED"},
            "Timestamp": {"S": now},
            "UploadedAt": {"S": now},
            "ExpiresAt": {"N": str(int(time.time()) + 86_400)},
        },
    )
    upload_page.open()  # the same identity (the SDK keeps it in IndexedDB)
    expect(page.get_by_text("No uploads yet.")).to_be_visible()
    expect(page.locator(".card")).to_have_count(0)
