/**
 * The upload page: drop or pick images, watch each one through the pipeline, see "My uploads", and find
 * them by label (chips with counts, a search box with type-ahead, a card's labels; a minimum confidence).
 */

import { connect, putFile } from "./lib/aws.js";
import { GIVE_UP_MS, pollDelay } from "./lib/backoff.js";
import { Card, el, makePreview } from "./lib/cards.js";
import { checkFile, objectKey, randomName } from "./lib/checks.js";
import { Combobox } from "./lib/combobox.js";
import { loadConfig } from "./lib/config.js";
import { CONFIRM_WITHIN_MS, nextDeletion } from "./lib/deletion.js";
import { formatPercent } from "./lib/format.js";
import { sortByConfidence } from "./lib/labels.js";
import {
  LABELS_EMPTY,
  NO_FILTER,
  chipsView,
  chooseMessage,
  filterAnnouncement,
  filterText,
  findLabel,
  isFiltering,
  labelFor,
  needsQuery,
  nextFilter,
  noImagesMessage,
  noMatchMessage,
  parseConfidence,
  shownText,
  suggest,
} from "./lib/search.js";
import { announcement, cardState } from "./lib/status.js";
import { ThumbnailStore } from "./lib/thumbnails.js";

const UPLOADS_AT_ONCE = 3;
const HISTORY_PAGE = 24;

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const announce = (text) => {
  $("announcer").textContent = text;
};

class UploadPage {
  constructor(config, aws, owner) {
    this.config = config;
    this.aws = aws;
    this.owner = owner;
    this.previews = new ThumbnailStore(window.localStorage);
    this.cards = $("cards");
    this.found = $("found");
    this.queue = [];
    this.active = 0;
    /** The owner's labels (the chips), most images first. */
    this.counts = [];
    this.chipsExpanded = false;
    this.labelsLoading = null;
    this.labelsAgain = false;
    this.filter = NO_FILTER;
    /** Bumped by every filter and by its clear: the answer to an older one is dropped. */
    this.generation = 0;
    this.finding = false;
    this.foundMore = false;
    this.combobox = new Combobox($("label-input"), $("label-options"), {
      options: (text) => (text.trim() === "" ? this.counts : suggest(this.counts, text)),
      onChoose: (label) => this.setFilter({ type: "choose", label }),
      onType: (text, options) => this.typed(text, options),
    });
    $("label-search").addEventListener("submit", (event) => {
      event.preventDefault();
      this.searched();
    });
    $("min-confidence").addEventListener("change", (event) =>
      this.setFilter({ type: "confidence", value: parseConfidence(event.target.value) }),
    );
    $("clear-filter").addEventListener("click", () => this.setFilter({ type: "clear" }));
    $("all-labels").addEventListener("click", () => {
      this.chipsExpanded = !this.chipsExpanded;
      this.renderChips();
    });
  }

  /** A card whose labels find the other images with that label. */
  newCard(name) {
    return new Card({
      name,
      config: this.config,
      onLabel: (label) => this.setFilter({ type: "choose", label: labelFor(this.counts, label) }),
    });
  }

  /** Show a card's new state and tell screen readers about it. */
  show(card, state, record = undefined) {
    card.render(state, record);
    if (state.phase === "labeled") {
      this.refreshLabels(); // the index is written in the same transaction as the record
    }
    const top = state.phase === "labeled" ? sortByConfidence(record?.Labels)[0] : undefined;
    $("announcer").textContent = announcement(
      card.name,
      state,
      top ? `${top.Name} ${formatPercent(top.Confidence)}` : "",
    );
  }

  /** New uploads go first (in the order given), older records last: newest first overall. */
  add(cards, { first }) {
    const roots = cards.map((card) => card.root);
    if (first) {
      this.cards.prepend(...roots);
    } else {
      this.cards.append(...roots);
    }
    this.updateEmpty();
  }

  accept(files) {
    this.setFilter({ type: "clear" }); // new uploads show among all of them
    const cards = files.map((file) => this.newCard(file.name));
    this.add(cards, { first: true });
    for (const [index, file] of files.entries()) {
      const card = cards[index];
      const check = checkFile(file, this.config.maxUploadBytes);
      if (!check.ok) {
        this.show(card, cardState(undefined, { phase: "refused", reason: check.reason }));
        continue;
      }
      const key = objectKey(this.config.uploadPrefix, this.owner, randomName(), check.extension);
      card.root.dataset.key = key;
      makePreview(file).then(
        (dataUrl) => {
          card.showPreview(dataUrl);
          this.previews.put(key, dataUrl);
        },
        () => {}, // Not decodable here: the pipeline says why.
      );
      card.render(cardState(undefined, { phase: "uploading", progress: 0 }));
      this.enqueue(() => this.upload(card, file, key, check.contentType));
    }
  }

  /** Run `task` (returns a promise) when fewer than UPLOADS_AT_ONCE uploads are running. */
  enqueue(task) {
    this.queue.push(task);
    this.pump();
  }

  pump() {
    while (this.active < UPLOADS_AT_ONCE && this.queue.length > 0) {
      const task = this.queue.shift();
      this.active += 1;
      task().finally(() => {
        this.active -= 1;
        this.pump();
      });
    }
  }

  async upload(card, file, key, contentType) {
    try {
      const { url, headers } = await this.aws.presignUpload({ key, contentType, originalName: file.name });
      await putFile(url, file, headers, (progress) =>
        card.render(cardState(undefined, { phase: "uploading", progress })),
      );
    } catch (error) {
      this.show(card, cardState(undefined, { phase: "upload-failed", reason: error.message }));
      return;
    }
    const state = cardState(undefined, { phase: "uploaded" });
    this.show(card, state);
    this.deletable(card, key);
    this.watch(card, key, state);
  }

  /** Poll the card's record with backoff until it reaches a terminal state (or the pipeline's timeout). */
  async watch(card, key, state) {
    const since = Date.now();
    let phase = state.phase;
    let attempt = 0;
    while (Date.now() - since < GIVE_UP_MS) {
      await sleep(pollDelay(attempt));
      attempt += 1;
      if (card.deletion.phase === "deleted") {
        return;
      }
      // null: a network blip; ask again after a longer wait.
      const record = await this.aws.record(this.owner, key).catch(() => null);
      if (record === null) {
        continue;
      }
      if (card.deletion.phase === "sending" || card.deletion.phase === "confirming") {
        continue; // The delete owns the card now and watches the record itself.
      }
      const next = cardState(record, { phase: "uploaded" });
      if (next.phase !== phase) {
        phase = next.phase;
        attempt = 0;
        this.show(card, next, record);
      }
      if (next.terminal) {
        return;
      }
    }
    this.show(card, cardState(undefined, { phase: "stale" }));
  }

  /** Give the card of an uploaded object its Delete button. */
  deletable(card, key) {
    card.enableDelete(() => {
      this.remove(card, key).catch(fail);
    });
  }

  /** Apply a delete event to the card; false when it changed nothing (a repeated click, for one). */
  step(card, event) {
    const next = nextDeletion(card.deletion, event);
    if (next === card.deletion) {
      return false;
    }
    card.renderDeletion(next);
    return true;
  }

  /**
   * Delete the upload: DeleteObject, then wait for the backend's cleanup to tombstone or remove the
   * record, then take the card off the page. On an error the card stays, says why, and can try again.
   */
  async remove(card, key) {
    if (!this.step(card, { type: "click" })) {
      return; // A delete is already on its way.
    }
    $("announcer").textContent = `${card.name}: deleting`;
    try {
      await this.aws.deleteUpload(key);
    } catch (error) {
      this.step(card, { type: "error", error });
      $("announcer").textContent = `${card.name}: ${card.deletion.message}`;
      return;
    }
    this.step(card, { type: "sent" });
    const since = Date.now();
    for (let attempt = 0; Date.now() - since < CONFIRM_WITHIN_MS; attempt += 1) {
      await sleep(pollDelay(attempt));
      const record = await this.aws.record(this.owner, key).catch(() => null);
      if (record !== null && this.step(card, { type: "record", record })) {
        const hadFocus = card.root.contains(document.activeElement);
        // Its card in the other list too (all uploads, or a label's).
        for (const root of document.querySelectorAll(`.card[data-key="${CSS.escape(key)}"]`)) {
          root.remove();
        }
        card.root.remove();
        if (hadFocus) {
          $("uploads-heading").focus(); // Keyboard users are not left on a button that is gone.
        }
        this.previews.remove(key);
        this.updateEmpty();
        this.refreshLabels();
        $("announcer").textContent = `${card.name}: deleted`;
        return;
      }
    }
    this.step(card, { type: "timeout" });
    $("announcer").textContent = `${card.name}: ${card.deletion.message}`;
  }

  /** "My uploads": the guest's own records, newest first, page by page. */
  async history(cursor = undefined) {
    const page = await this.aws.myUploads(this.owner, { limit: HISTORY_PAGE, cursor });
    const cards = page.records.map((record) => this.recordCard(record));
    this.add(cards, { first: false });
    const more = $("more");
    more.hidden = page.cursor === undefined;
    more.onclick = () => {
      more.hidden = true;
      this.history(page.cursor).catch(fail);
    };
  }

  /** The card of a stored record (in "My uploads" or a label's images), watched until it is done. */
  recordCard(record) {
    const key = record[this.config.table.sortKey];
    const name = record.OriginalName || key.slice(key.lastIndexOf("/") + 1);
    const card = this.newCard(name);
    card.root.dataset.key = key;
    const preview = this.previews.get(key);
    if (preview) {
      card.showPreview(preview);
    }
    const state = cardState(record, { phase: "uploaded" });
    card.render(state, record);
    this.deletable(card, key);
    if (!state.terminal) {
      this.watch(card, key, state);
    }
    return card;
  }

  /** The empty states and the filter's count, after cards came or went. */
  updateEmpty() {
    $("uploads-empty").hidden = this.cards.childElementCount > 0;
    if (isFiltering(this.filter) && !this.finding) {
      const shown = this.found.childElementCount;
      $("filter-text").textContent = `${filterText(this.filter)}: ${shownText(shown, this.foundMore)}`;
      $("found-empty").textContent = noImagesMessage(this.filter);
      $("found-empty").hidden = shown > 0 || this.foundMore;
    }
  }

  // --- labels: chips, search, filter ---------------------------------------------------------------

  /** Read the owner's label counts again (once more after the current read, if one is under way). */
  refreshLabels() {
    if (this.labelsLoading) {
      this.labelsAgain = true;
      return this.labelsLoading;
    }
    this.labelsLoading = (async () => {
      do {
        this.labelsAgain = false;
        this.counts = await this.aws.labelCounts(this.owner);
        this.renderChips();
      } while (this.labelsAgain);
    })()
      .catch((error) => {
        $("labels-empty").textContent = `Your labels could not be read (${error.message}). Reload the page to try again.`;
        $("labels-empty").hidden = false;
        console.error(error);
      })
      .finally(() => {
        this.labelsLoading = null;
      });
    return this.labelsLoading;
  }

  renderChips() {
    const { shown, toggle } = chipsView(this.counts, this.chipsExpanded);
    const chips = $("chips");
    const focused = chips.contains(document.activeElement) ? document.activeElement.dataset.key : undefined;
    chips.replaceChildren(
      ...shown.map((count) => {
        const images = el("span", { className: "visually-hidden" }, count.images === 1 ? " image" : " images");
        const button = el(
          "button",
          { type: "button", className: "chip" },
          el("span", { className: "chip-name" }, count.name),
          " ",
          el("span", { className: "chip-count" }, String(count.images), images),
        );
        button.dataset.key = count.key;
        button.addEventListener("click", () =>
          this.setFilter({ type: "toggle", label: { key: count.key, name: count.name } }),
        );
        return el("li", {}, button);
      }),
    );
    this.markChips();
    if (focused !== undefined) {
      [...chips.querySelectorAll("button")].find((button) => button.dataset.key === focused)?.focus();
    }
    chips.hidden = shown.length === 0;
    $("labels-empty").textContent = LABELS_EMPTY;
    $("labels-empty").hidden = this.counts.length > 0;
    const all = $("all-labels");
    all.hidden = toggle === null;
    all.textContent = toggle ?? "";
    all.setAttribute("aria-expanded", String(toggle !== null && this.chipsExpanded));
    this.combobox.refresh();
  }

  /** The chip of the label shown is pressed. */
  markChips() {
    for (const button of $("chips").querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.key === this.filter.label?.key));
    }
  }

  /** What was typed matches no label: say so (and tell screen readers once, not at every key). */
  typed(text, options) {
    const message = $("search-message");
    if (text.trim() !== "" && options.length === 0) {
      const wasHidden = message.hidden;
      message.textContent = noMatchMessage(text, this.counts);
      message.hidden = false;
      if (wasHidden) {
        announce(message.textContent);
      }
    } else {
      message.hidden = true;
    }
  }

  /** Enter (no suggestion picked) or Find: the label typed, or the only one that matches. */
  searched() {
    const input = $("label-input");
    const text = input.value;
    if (text.trim() === "") {
      this.setFilter({ type: "clear" });
      return;
    }
    const options = suggest(this.counts, text);
    const label = findLabel(this.counts, text) ?? (options.length === 1 ? options[0] : undefined);
    if (label) {
      this.combobox.close();
      this.setFilter({ type: "choose", label });
      return;
    }
    const message = $("search-message");
    message.textContent = options.length === 0 ? noMatchMessage(text, this.counts) : chooseMessage(text, options.length);
    message.hidden = false;
    announce(message.textContent);
    this.combobox.show(options, true);
  }

  /** Apply a filter event: list a label's images, or every upload again. */
  setFilter(event) {
    const previous = this.filter;
    const next = nextFilter(previous, event);
    if (next === previous) {
      return;
    }
    this.filter = next;
    this.markChips();
    if (!isFiltering(next)) {
      if (isFiltering(previous)) {
        this.showAll();
      }
    } else if (needsQuery(previous, next)) {
      this.find().catch(fail);
    }
  }

  /** Is keyboard focus in a list of cards (which a new filter replaces or hides)? */
  focusInLists() {
    const active = document.activeElement;
    return (
      active === null ||
      active === document.body ||
      $("all-uploads").contains(active) ||
      $("found-uploads").contains(active) ||
      $("filter").contains(active)
    );
  }

  /** The filter's first page: its images newest first, then "Show older images". */
  async find() {
    const generation = (this.generation += 1);
    const lostFocus = this.focusInLists();
    $("label-input").value = this.filter.label.name;
    $("search-message").hidden = true;
    $("filter").hidden = false;
    $("filter-text").textContent = `${filterText(this.filter)}: looking…`;
    $("all-uploads").hidden = true;
    $("found-uploads").hidden = false;
    $("found-empty").hidden = true;
    $("found-more").hidden = true;
    this.found.replaceChildren();
    if (lostFocus) {
      $("filter-text").focus(); // where the list went, with the way back next to it
    }
    await this.findPage(generation, undefined);
  }

  async findPage(generation, cursor) {
    const filter = this.filter;
    this.finding = true;
    this.found.setAttribute("aria-busy", "true");
    let page;
    try {
      page = await this.aws.labelImages(this.owner, filter.label.key, {
        minConfidence: filter.minConfidence,
        limit: HISTORY_PAGE,
        cursor,
      });
    } finally {
      if (generation === this.generation) {
        this.finding = false;
        this.found.removeAttribute("aria-busy");
      }
    }
    if (generation !== this.generation) {
      return; // another filter, or none, since
    }
    this.found.append(...page.records.map((record) => this.recordCard(record).root));
    this.foundMore = page.cursor !== undefined;
    this.updateEmpty();
    const more = $("found-more");
    more.hidden = !this.foundMore;
    more.onclick = () => {
      more.hidden = true;
      this.findPage(generation, page.cursor).catch(fail);
    };
    if (cursor === undefined) {
      announce(filterAnnouncement(filter, this.found.childElementCount, this.foundMore));
    }
  }

  /** Back to every upload (the list was kept as it was, with its cards still watched). */
  showAll() {
    this.generation += 1;
    this.finding = false;
    const lostFocus = this.focusInLists();
    $("filter").hidden = true;
    $("found-uploads").hidden = true;
    $("all-uploads").hidden = false;
    this.found.replaceChildren();
    $("label-input").value = "";
    $("search-message").hidden = true;
    this.updateEmpty();
    if (lostFocus) {
      $("uploads-heading").focus();
    }
    announce("Showing all uploads");
  }
}

function fail(error) {
  const message = $("page-error");
  message.textContent = `Something went wrong: ${error.message}. Reload the page to try again.`;
  message.hidden = false;
  console.error(error);
}

function wireDropping(onFiles) {
  const zone = $("dropzone");
  const input = $("file-input");
  input.addEventListener("change", () => {
    onFiles([...input.files]);
    input.value = ""; // The same file can be picked again.
  });
  // A file dropped anywhere is an upload, never a navigation away from the page.
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (event.relatedTarget === null) {
      zone.classList.remove("dragging");
    }
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer?.files.length) {
      onFiles([...event.dataTransfer.files]);
    }
  });
}

async function start() {
  const config = await loadConfig();
  $("executions-link").hidden = !config.local;
  const aws = connect(config);
  const page = new UploadPage(config, aws, await aws.identityId());
  // History first: a card is never listed twice.
  await Promise.all([page.history(), page.refreshLabels()]);
  wireDropping((files) => page.accept(files));
  $("file-input").disabled = false;
  document.body.dataset.ready = "true";
}

start().catch(fail);
