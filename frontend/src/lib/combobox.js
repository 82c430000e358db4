/**
 * The label search box: a text input with a list of matching labels (the ARIA "combobox with listbox
 * popup, list autocomplete" pattern). Typing filters the list; Down/Up open it and move through it (the
 * input keeps focus, `aria-activedescendant` names the option); Enter or a click chooses; Escape closes
 * the list, or clears the text when it is closed; leaving the box closes it.
 */

import { el } from "./cards.js";
import { imagesText, moveActive } from "./search.js";

export class Combobox {
  /**
   * @param {HTMLInputElement} input has role=combobox, aria-controls=the listbox
   * @param {HTMLElement} listbox an empty `ul` with role=listbox
   * @param {{options: (text: string) => import("./search.js").LabelCount[],
   *   onChoose: (option: import("./search.js").LabelCount) => void,
   *   onType: (text: string, options: import("./search.js").LabelCount[]) => void}} handlers
   *   options: the labels for what is typed ("" is every label); onType: after each change of the text
   */
  constructor(input, listbox, { options, onChoose, onType }) {
    this.input = input;
    this.listbox = listbox;
    this.options = options;
    this.onChoose = onChoose;
    this.onType = onType;
    this.shown = [];
    this.active = -1;
    input.setAttribute("aria-expanded", "false");
    input.addEventListener("input", () => {
      const shown = this.options(input.value);
      this.show(shown, input.value.trim() !== "" && shown.length > 0);
      this.onType(input.value, shown);
    });
    input.addEventListener("keydown", (event) => this.key(event));
    input.addEventListener("blur", () => this.close());
    // The input keeps focus while the pointer picks an option.
    listbox.addEventListener("mousedown", (event) => event.preventDefault());
    listbox.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) {
        this.choose(Number(option.dataset.index));
      }
    });
  }

  get open() {
    return !this.listbox.hidden;
  }

  /** Is an option active (so that Enter chooses it)? */
  get choosing() {
    return this.open && this.active >= 0;
  }

  key(event) {
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp": {
        event.preventDefault();
        const delta = event.key === "ArrowDown" ? 1 : -1;
        if (!this.open) {
          this.show(this.options(this.input.value), true);
          if (event.altKey) {
            return; // Alt+Down opens the list without choosing.
          }
        }
        this.activate(moveActive(this.active, delta, this.shown.length));
        break;
      }
      case "Enter":
        if (this.choosing) {
          event.preventDefault();
          this.choose(this.active);
        }
        break;
      case "Escape":
        if (this.open) {
          event.preventDefault();
          this.close();
        } else if (this.input.value !== "") {
          event.preventDefault();
          this.input.value = "";
          this.onType("", []);
        }
        break;
      default:
        break;
    }
  }

  /** List `options`, none active; open the list when `open` and there is something in it. */
  show(options, open) {
    this.shown = options;
    this.active = -1;
    const id = this.listbox.id;
    this.listbox.replaceChildren(
      ...options.map((option, index) => {
        const item = el(
          "li",
          { id: `${id}-${index}`, className: "option" },
          el("span", { className: "option-name" }, option.name),
          " ",
          el("span", { className: "option-count" }, imagesText(option.images)),
        );
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.dataset.index = String(index);
        return item;
      }),
    );
    const visible = open && options.length > 0;
    this.listbox.hidden = !visible;
    this.input.setAttribute("aria-expanded", String(visible));
    this.input.removeAttribute("aria-activedescendant");
  }

  activate(index) {
    this.active = index;
    for (const [position, item] of [...this.listbox.children].entries()) {
      item.setAttribute("aria-selected", String(position === index));
    }
    const item = this.listbox.children[index];
    if (item) {
      this.input.setAttribute("aria-activedescendant", item.id);
      item.scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  choose(index) {
    const option = this.shown[index];
    if (option === undefined) {
      return;
    }
    this.input.value = option.name;
    this.close();
    this.onChoose(option);
  }

  close() {
    this.show([], false);
  }

  /** Refresh the list after the labels changed (a card got labeled), keeping it open if it was. */
  refresh() {
    if (this.open) {
      this.show(this.options(this.input.value), true);
    }
  }
}
