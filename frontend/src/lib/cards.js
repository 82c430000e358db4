/** One card per image: preview with bounding boxes, live status, labels with confidence bars, facts. */

import { executionUrl } from "./config.js";
import { IDLE, deletionView } from "./deletion.js";
import { formatBytes, formatDuration, formatPercent, formatTime } from "./format.js";
import { instanceBoxes, sortByConfidence } from "./labels.js";

/** `el("p", {className: "x"}, "text", child)`: an element with properties and children. */
export function el(tag, properties = {}, ...children) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

let cards = 0;

export class Card {
  /**
   * @param {{name: string, config: import("./config.js").Config, onLabel?: (name: string) => void}} options
   *   onLabel: makes each label a button that calls it with the label's name (find images by label)
   */
  constructor({ name, config, onLabel = undefined }) {
    this.name = name;
    this.config = config;
    this.onLabel = onLabel;
    const headingId = `card-${(cards += 1)}`;
    this.image = el("img", { alt: `Preview of ${name}`, hidden: true });
    this.boxes = el("div", { className: "boxes" });
    this.placeholder = el("span", { className: "placeholder" }, "No preview");
    this.status = el("p", { className: "status" });
    this.progress = el("progress", { max: 1, value: 0, hidden: true });
    this.progress.setAttribute("aria-labelledby", headingId);
    this.detail = el("p", { className: "detail" });
    this.labels = el("ol", { className: "labels" });
    this.labels.setAttribute("aria-label", `Labels of ${name}`);
    this.facts = el("dl", { className: "facts" });
    /** The delete, once the card has an object to delete (enableDelete). */
    this.deletion = IDLE;
    this.state = undefined;
    this.deleteButton = el("button", { type: "button", className: "button delete", hidden: true }, "Delete");
    this.deleteButton.setAttribute("aria-label", `Delete ${name}`);
    this.deleteMessage = el("p", { className: "delete-message", hidden: true });
    this.deleteMessage.setAttribute("role", "alert");
    this.root = el(
      "li",
      { className: "card" },
      el(
        "article",
        {},
        el(
          "figure",
          { className: "preview" },
          el("div", { className: "frame" }, this.image, this.boxes),
          this.placeholder,
        ),
        el(
          "div",
          { className: "body" },
          el("h3", { id: headingId, className: "name", title: name }, name),
          this.status,
          this.progress,
          this.detail,
          this.labels,
          this.facts,
          this.deleteMessage,
          this.deleteButton,
        ),
      ),
    );
    this.root.firstChild.setAttribute("aria-labelledby", headingId);
  }

  showPreview(dataUrl) {
    this.image.src = dataUrl;
    this.image.hidden = false;
    this.placeholder.hidden = true;
  }

  /**
   * @param {import("./status.js").CardState} state
   * @param {object | undefined} record the results item, once there is one
   */
  render(state, record = undefined) {
    this.state = state;
    this.root.dataset.phase = state.phase;
    this.status.textContent = deletionView(this.deletion, this.name).status || state.label;
    this.progress.hidden = state.progress === undefined;
    this.progress.value = state.progress ?? 0;
    this.detail.textContent = state.detail;
    this.detail.hidden = !state.detail;
    const labels = state.phase === "labeled" ? sortByConfidence(record?.Labels) : [];
    this.labels.replaceChildren(...labels.map((label) => labelItem(label, this.onLabel)));
    this.labels.hidden = labels.length === 0;
    const boxes = state.phase === "labeled" ? instanceBoxes(record?.Labels) : [];
    this.boxes.replaceChildren(...boxes.map(boxItem));
    this.facts.replaceChildren(...(record ? facts(record, this.config) : []));
  }

  /** Show the Delete button; `onDelete` runs on each click (the page's state machine ignores repeats). */
  enableDelete(onDelete) {
    this.deleteButton.hidden = false;
    this.deleteButton.onclick = onDelete;
  }

  /** @param {import("./deletion.js").Deletion} deletion */
  renderDeletion(deletion) {
    this.deletion = deletion;
    const view = deletionView(deletion, this.name);
    this.root.dataset.deletion = deletion.phase;
    this.root.setAttribute("aria-busy", String(view.busy));
    // aria-disabled, not disabled: the button keeps keyboard focus while the delete is on its way.
    this.deleteButton.setAttribute("aria-disabled", String(view.disabled));
    this.deleteButton.textContent = view.buttonText;
    this.deleteMessage.textContent = view.message;
    this.deleteMessage.hidden = !view.message;
    if (this.state) {
      this.status.textContent = view.status || this.state.label;
    }
  }
}

/** The hidden sentence that describes every label button (index.html has it). */
const LABEL_HINT = "label-hint";

function labelItem(label, onLabel) {
  let name;
  if (onLabel) {
    name = el("button", { type: "button", className: "label-name label-link", title: label.Name }, label.Name);
    name.setAttribute("aria-describedby", LABEL_HINT);
    name.addEventListener("click", () => onLabel(label.Name));
  } else {
    name = el("span", { className: "label-name" }, label.Name);
  }
  const fill = el("span", { className: "fill" });
  fill.style.width = `${Math.min(100, Math.max(0, label.Confidence))}%`;
  const bar = el("span", { className: "bar" }, fill);
  bar.setAttribute("aria-hidden", "true");
  return el(
    "li",
    {},
    name,
    bar,
    el("span", { className: "confidence" }, formatPercent(label.Confidence)),
  );
}

function boxItem({ name, title, rect }) {
  const box = el("span", { className: "box", title }, el("span", { className: "box-name" }, name));
  Object.assign(box.style, rect);
  return box;
}

function facts(record, config) {
  const rows = [];
  const add = (term, description) => {
    if (description) {
      rows.push(el("dt", {}, term), el("dd", {}, description));
    }
  };
  if (record.Format && record.Width) {
    const size = record.Size ? `, ${formatBytes(record.Size)}` : "";
    add("Image", `${record.Format}, ${record.Width} × ${record.Height}${size}`);
  }
  add("Model", record.LabelModelVersion);
  add("Processing", record.Timings?.EndToEndMs ? formatDuration(record.Timings.EndToEndMs) : "");
  add("Uploaded", formatTime(record.UploadedAt));
  if (record.ExecutionId) {
    const link = el("a", { href: executionUrl(config, record.ExecutionId) }, "Show execution");
    if (!config.local) {
      link.target = "_blank";
      link.rel = "noopener";
    }
    add("Execution", link);
  }
  return rows;
}

/** A JPEG data URL of the image scaled to fit `maxSide` (rejects when the browser cannot decode it). */
export async function makePreview(file, maxSide = 320) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const canvas = el("canvas", {
    width: Math.max(1, Math.round(bitmap.width * scale)),
    height: Math.max(1, Math.round(bitmap.height * scale)),
  });
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas.toDataURL("image/jpeg", 0.8);
}
