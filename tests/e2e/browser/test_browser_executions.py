"""The local executions view: the stand-in for the Step Functions console."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from labeler_tools.local.web import WebServer
from tests.e2e.browser.conftest import UploadPage
from tests.e2e.local_process import Running

pytestmark = pytest.mark.integration


def test_an_image_links_to_its_execution_timeline(upload_page: UploadPage, photos: dict[str, Path]) -> None:
    page = upload_page.open().page
    upload_page.picker.set_input_files(photos["cat"])
    card = upload_page.card("Chelsea the cat.jpg")
    upload_page.wait_for(card, "labeled")

    card.get_by_role("link", name="Show execution").click()
    execution = page.locator("#execution")
    expect(execution.locator(".summary")).to_contain_text("SUCCEEDED")
    steps = execution.locator(".timeline > li")
    expect(steps.locator(".step-name")).to_have_text(
        ["Validate Task", "IsDuplicate Choice", "Label Task", "Store Task"]
    )
    for index in range(4):
        expect(steps.nth(index)).to_have_class("step outcome-succeeded")
    expect(page.locator("#executions a[aria-current=true]")).to_have_count(1)
    upload_page.screenshot("6-execution-timeline")


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_executions_api_lists_executions_with_their_keys_and_has_no_others(
    site: Running, photos: dict[str, Path]
) -> None:
    key = "uploads/api-test/a cat+1.jpg"
    site.client("s3").put_object(
        Bucket=site.discovery.upload_bucket, Key=key, Body=photos["cat"].read_bytes()
    )
    web = site.discovery.web_url
    deadline = time.monotonic() + 30
    while True:
        status, listing = _get(f"{web}api/executions")
        assert status == 200
        mine = [execution for execution in listing["executions"] if execution["key"] == key]
        if mine and mine[0]["status"] != "RUNNING":
            break
        assert time.monotonic() < deadline, listing
        time.sleep(0.2)
    (execution,) = mine
    assert execution["status"] == "SUCCEEDED"
    assert execution["arn"].endswith(":" + execution["name"])

    status, detail = _get(f"{web}api/executions/{execution['name']}")
    assert status == 200
    assert detail["execution"] == execution
    assert [state["name"] for state in detail["states"]] == ["Validate", "IsDuplicate", "Label", "Store"]
    assert detail["outcome"] == "LABELED"

    for name in ("no-such-execution", "arn:aws:states:us-east-1:123456789012:execution:other:x"):
        status, body = _get(f"{web}api/executions/{urllib.parse.quote(name, safe=':')}")
        assert status == 404, name
        assert "no execution named" in body["message"]


def test_a_server_without_executions_says_so(tmp_path: Path) -> None:
    server = WebServer("127.0.0.1", 0, {"uploadBucket": "b", "endpoint": "http://e"}, list, tmp_path)
    server.start()
    try:
        status, body = _get(f"{server.url}api/executions")
    finally:
        server.stop()
    assert (status, body) == (404, {"message": "no executions on this server"})
