"""Finding images by label on the upload page (issue #18): the label chips with their counts, the search
box with type-ahead, a card's labels, the minimum confidence, the empty states; and axe-core (WCAG 2.1
AA) over both pages in each of their states."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from boto3.dynamodb.types import TypeDeserializer
from PIL import Image
from playwright.sync_api import Browser, Page, Request, expect

from labeler.aws.results import item_to_record
from labeler.blueprint import REPO_ROOT
from labeler.label_index import entry_sort, indexed_labels
from labeler.models import ResultRecord
from tests.e2e.browser.conftest import CAT_LABELS, COFFEE_LABELS, UploadPage
from tests.e2e.local_process import Running

pytestmark = pytest.mark.integration

AXE = REPO_ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CAT, CAT_AGAIN, COFFEE = "Chelsea the cat.jpg", "Chelsea again.png", "café crème 1MB.jpg"
#: How many chips show before "Show all N labels" (frontend/src/lib/search.js, CHIPS_SHOWN).
CHIPS_SHOWN = 12
LABELS_EMPTY = "Labels appear here once an upload is labeled."
#: The cleanup follows a delete through EventBridge and a Lambda (test_browser_delete.py).
DELETED_WITHIN_MS = 30_000


def with_axe(page: Page) -> Page:
    """Load axe-core into every document the page opens from now on.

    Not ``add_script_tag``: that inserts an inline script, which the page's strict CSP refuses (and
    logs); an init script is evaluated by the browser itself, outside the page's CSP.
    """
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make frontend` (npm ci installs axe-core)")
    page.add_init_script(path=AXE)
    return page


def assert_accessible(page: Page, state: str) -> None:
    """axe-core finds no WCAG 2.0/2.1 A or AA violation on the page as it is now."""
    assert page.evaluate("typeof window.axe") == "object", "axe-core is not loaded (with_axe)"
    results: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, { runOnly: { type: 'tag', values: tags } })", WCAG_21_AA
    )
    found = [
        f"{violation['id']} ({violation['impact']}): "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"])
        + f" ({violation['help']})"
        for violation in results["violations"]
    ]
    assert not found, f"axe-core, {state}: " + "; ".join(found)


def _record(site: Running, key: str) -> ResultRecord:
    owner = key.split("/")[1]
    item = site.client("dynamodb").get_item(
        TableName=site.discovery.results_table,
        Key={"Owner": {"S": owner}, "ImageName": {"S": key}},
        ConsistentRead=True,
    )["Item"]
    deserializer = TypeDeserializer()
    return item_to_record({name: deserializer.deserialize(value) for name, value in item.items()})


def _expected_chips(records: list[ResultRecord]) -> list[str]:
    """The chips the records call for (the index's own rules), as they read: "Cat 1 image"."""
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    for record in records:
        for key, label in indexed_labels(record).items():
            counts[key] += 1
            names.setdefault(key, label.name)
    ordered = sorted(counts, key=lambda key: (-counts[key], key))
    return [f"{names[key]} {counts[key]} image{'' if counts[key] == 1 else 's'}" for key in ordered]


def _visible_cards(page: Page) -> list[str]:
    return page.locator(".card:visible h3").all_text_contents()


def test_chips_search_card_labels_and_confidence_find_my_images(
    upload_page: UploadPage,
    site: Running,
    photos: dict[str, Path],
    browser: Browser,
    browser_context_args: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Two cats and a coffee: "Cat" (a parent of the cat's own labels) finds both cats, newest first."""
    again = tmp_path / CAT_AGAIN
    Image.open(photos["cat"]).save(again, format="PNG")
    page = with_axe(upload_page.page)
    upload_page.open()
    search = page.get_by_role("combobox", name="Find by label")
    chips = page.get_by_role("list", name="My labels")
    labels_empty = page.get_by_text(LABELS_EMPTY)
    expect(labels_empty).to_be_visible()
    expect(chips).to_be_hidden()
    assert_accessible(page, "upload page, empty")

    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request) if request.method == "PUT" else None)
    upload_page.picker.set_input_files([photos["cat"], photos["coffee"], again])
    cat, coffee = upload_page.card(CAT), upload_page.card(COFFEE)
    for card in (cat, coffee, upload_page.card(CAT_AGAIN)):
        upload_page.wait_for(card, "labeled")
    keys = {}
    for request in sent:
        path = unquote(urlsplit(request.url).path)
        keys[unquote(request.headers["x-amz-meta-original-name"])] = path[path.index("/uploads/") + 1 :]
    records = {name: _record(site, key) for name, key in keys.items()}
    assert set(records) == {CAT, CAT_AGAIN, COFFEE}
    # A label's entries sort by "<uploaded at>#<image name>" (labeler.label_index.entry_sort).
    cats_newest_first = sorted([CAT, CAT_AGAIN], key=lambda name: entry_sort(records[name]), reverse=True)

    # Chips: every label of this identity's images (their own and their parents), with how many
    # images each finds, most first; a dozen, then all of them.
    expected = _expected_chips(list(records.values()))
    expect(labels_empty).to_be_hidden()
    if len(expected) > CHIPS_SHOWN:
        expect(chips.get_by_role("button")).to_have_text(expected[:CHIPS_SHOWN])
        show_all = page.get_by_role("button", name=f"Show all {len(expected)} labels")
        expect(show_all).to_have_attribute("aria-expanded", "false")
        show_all.click()
        show_fewer = page.get_by_role("button", name="Show fewer labels")
        expect(show_fewer).to_have_attribute("aria-expanded", "true")
    expect(chips.get_by_role("button")).to_have_text(expected)
    upload_page.screenshot("labels-1-chips")
    assert_accessible(page, "upload page, labeled cards and chips")

    # Type-ahead on a parent label ("Cat" finds a Tabby Cat), chosen with the keyboard: the cats alone.
    cat_labels = indexed_labels(records[CAT])
    assert "cat" in cat_labels and not cat_labels["cat"].direct, "Cat is a parent of the cat's label"
    assert "cat" in indexed_labels(records[CAT_AGAIN])
    assert "cat" not in indexed_labels(records[COFFEE])
    search.press_sequentially("ca")
    expect(search).to_have_attribute("aria-expanded", "true")
    options = page.get_by_role("listbox", name="Matching labels").get_by_role("option")
    expect(options.filter(has_text=re.compile(r"^Cat\s+2 images$"))).to_have_count(1)
    search.press_sequentially("t")  # the label typed in full comes first
    expect(options.first).to_have_text(re.compile(r"^Cat\s+2 images$"))
    upload_page.screenshot("labels-2-type-ahead")
    assert_accessible(page, "upload page, type-ahead open")
    search.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(search).to_have_attribute("aria-activedescendant", options.first.get_attribute("id") or "")
    search.press("Enter")
    expect(search).to_have_attribute("aria-expanded", "false")
    expect(search).to_have_value("Cat")
    filter_text = page.locator("#filter-text")
    expect(filter_text).to_have_text("Labeled “Cat”, any confidence: 2 images")
    expect(page.locator("#found .card")).to_have_count(2)
    assert _visible_cards(page) == cats_newest_first
    expect(page.locator("#found").get_by_role("list", name=f"Labels of {CAT}")).to_contain_text(CAT_LABELS)
    cat_chip = chips.get_by_role("button", name="Cat 2 images", exact=True)
    expect(cat_chip).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#announcer")).to_have_text("Showing 2 images labeled Cat, any confidence")
    upload_page.screenshot("labels-3-filtered-by-cat")
    assert_accessible(page, "upload page, filtered by a label")

    # A minimum confidence the cat's "Cat" does not reach: nothing, and what to do.
    assert max(indexed_labels(records[name])["cat"].confidence for name in (CAT, CAT_AGAIN)) < 90
    confidence = page.get_by_label("Confidence", exact=True)
    confidence.select_option("90")
    no_images = page.locator("#found-empty")
    expect(no_images).to_be_visible()
    expect(no_images).to_have_text(
        re.compile(r"^No image labeled “Cat” at 90% confidence or more\. Choose a lower confidence")
    )
    expect(page.locator("#found .card")).to_have_count(0)
    expect(filter_text).to_have_text("Labeled “Cat”, 90% confidence or more: 0 images")
    assert_accessible(page, "upload page, a filter with no images")
    confidence.select_option("0")
    expect(page.locator("#found .card")).to_have_count(2)
    expect(no_images).to_be_hidden()

    # Back to every upload.
    page.get_by_role("button", name="Show all uploads").click()
    expect(page.locator("#filter")).to_be_hidden()
    expect(search).to_have_value("")
    expect(page.locator("#uploads-heading")).to_be_focused()
    expect(page.locator("#announcer")).to_have_text("Showing all uploads")
    assert sorted(_visible_cards(page)) == sorted(records)

    # A label on a card is a button (keyboard: Enter): the coffee alone; focus goes to what it shows.
    top = coffee.get_by_role("button", name=COFFEE_LABELS).first
    expect(top).to_have_accessible_description("Shows my uploads with this label.")
    name = top.text_content() or ""
    top.focus()
    page.keyboard.press("Enter")
    expect(filter_text).to_have_text(f"Labeled “{name}”, any confidence: 1 image")
    expect(filter_text).to_be_focused()
    expect(page.locator("#found .card")).to_have_count(1)
    assert _visible_cards(page) == [COFFEE]
    upload_page.screenshot("labels-4-filtered-by-a-card-label")

    # Deleted from the filtered list: gone from both lists, and from the chips.
    page.locator("#found").get_by_role("button", name=f"Delete {COFFEE}").click()
    expect(page.locator("#found .card")).to_have_count(0, timeout=DELETED_WITHIN_MS)
    expect(page.locator("#found-empty")).to_have_text(
        re.compile(rf"^No image of yours is labeled “{re.escape(name)}” any more\. Pick another label")
    )
    expect(filter_text).to_have_text(f"Labeled “{name}”, any confidence: 0 images")
    expect(chips.get_by_role("button")).to_have_text(_expected_chips([records[CAT], records[CAT_AGAIN]]))
    page.get_by_role("button", name="Show all uploads").click()
    assert sorted(_visible_cards(page)) == sorted([CAT, CAT_AGAIN])
    expect(upload_page.card(COFFEE)).to_have_count(0)

    # Something that is no label of this identity's.
    search.fill("zebra")
    message = page.locator("#search-message")
    expect(message).to_be_visible()
    expect(message).to_have_text(re.compile(r"^No label of yours matches “zebra”\. Try a broader word"))
    expect(page.locator("#announcer")).to_have_text(message.text_content() or "")
    expect(search).to_have_attribute("aria-expanded", "false")
    search.press("Enter")
    expect(page.locator("#filter")).to_be_hidden()
    assert_accessible(page, "upload page, a search with no match")
    search.press("Escape")
    expect(search).to_have_value("")

    # Narrow screens: one column, the search and the chips wrap.
    page.set_viewport_size({"width": 390, "height": 844})
    search.press_sequentially("cat")
    expect(options.first).to_be_visible()
    upload_page.screenshot("labels-5-narrow")
    assert_accessible(page, "upload page, 390 px")

    # Another identity (a fresh browser context) has no labels and is told where they come from.
    other = browser.new_context(**browser_context_args)
    try:
        stranger = UploadPage(other.new_page()).open()
        expect(stranger.page.get_by_text(LABELS_EMPTY)).to_be_visible()
        expect(stranger.page.get_by_role("list", name="My labels")).to_be_hidden()
        expect(stranger.page.locator(".chip")).to_have_count(0)
        expect(stranger.page.get_by_text("No uploads yet.")).to_be_visible()
        stranger.page.get_by_role("combobox", name="Find by label").fill("cat")
        expect(stranger.page.locator("#search-message")).to_have_text(
            re.compile(r"^No labels yet, so nothing matches “cat”: upload a photo first")
        )
        stranger.screenshot("labels-6-another-identity")
        assert stranger.errors == [], "the other identity's page logged console errors"
    finally:
        other.close()


def test_the_executions_page_passes_axe(upload_page: UploadPage, photos: dict[str, Path]) -> None:
    page = with_axe(upload_page.page)
    upload_page.open()
    upload_page.picker.set_input_files(photos["cat"])
    card = upload_page.card(CAT)
    upload_page.wait_for(card, "labeled")
    card.get_by_role("link", name="Show execution").click()
    expect(page.locator("#execution .summary")).to_contain_text("SUCCEEDED")
    expect(page.locator("#executions tr").first).to_be_visible()
    assert_accessible(page, "executions page with an execution")
