/** The upload page: drop or pick images, watch each one through the pipeline, see "My uploads". */

import { connect, putFile } from "./lib/aws.js";
import { GIVE_UP_MS, pollDelay } from "./lib/backoff.js";
import { Card, el, makePreview } from "./lib/cards.js";
import { checkFile, objectKey, randomName } from "./lib/checks.js";
import { loadConfig } from "./lib/config.js";
import { CONFIRM_WITHIN_MS, nextDeletion } from "./lib/deletion.js";
import { formatPercent } from "./lib/format.js";
import { sortByConfidence } from "./lib/labels.js";
import { announcement, cardState } from "./lib/status.js";
import { ThumbnailStore } from "./lib/thumbnails.js";

const UPLOADS_AT_ONCE = 3;
const HISTORY_PAGE = 24;

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class UploadPage {
  constructor(config, aws, owner) {
    this.config = config;
    this.aws = aws;
    this.owner = owner;
    this.previews = new ThumbnailStore(window.localStorage);
    this.cards = $("cards");
    this.queue = [];
    this.active = 0;
  }

  /** Show a card's new state and tell screen readers about it. */
  show(card, state, record = undefined) {
    card.render(state, record);
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
    $("uploads-empty").hidden = this.cards.childElementCount > 0;
  }

  accept(files) {
    const cards = files.map((file) => new Card({ name: file.name, config: this.config }));
    this.add(cards, { first: true });
    for (const [index, file] of files.entries()) {
      const card = cards[index];
      const check = checkFile(file, this.config.maxUploadBytes);
      if (!check.ok) {
        this.show(card, cardState(undefined, { phase: "refused", reason: check.reason }));
        continue;
      }
      const key = objectKey(this.config.uploadPrefix, this.owner, randomName(), check.extension);
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
        card.root.remove();
        if (hadFocus) {
          $("uploads-heading").focus(); // Keyboard users are not left on a button that is gone.
        }
        this.previews.remove(key);
        $("uploads-empty").hidden = this.cards.childElementCount > 0;
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
    const cards = page.records.map((record) => {
      const key = record[this.config.table.sortKey];
      const name = record.OriginalName || key.slice(key.lastIndexOf("/") + 1);
      const card = new Card({ name, config: this.config });
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
    });
    this.add(cards, { first: false });
    const more = $("more");
    more.hidden = page.cursor === undefined;
    more.onclick = () => {
      more.hidden = true;
      this.history(page.cursor).catch(fail);
    };
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
  await page.history();
  wireDropping((files) => page.accept(files));
  $("file-input").disabled = false;
  document.body.dataset.ready = "true";
}

start().catch(fail);
