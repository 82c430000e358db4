/**
 * Finding "My uploads" by label, from the label index (`labeler.blueprint.LABEL_INDEX`): the key a label
 * is indexed under, one owner's partitions, the label chips (counts), type-ahead matching, and the
 * state of the filter with what the page says about it. No DOM, no SDK.
 */

import { isDeleted } from "./deletion.js";

/** How many label chips show before "Show all N labels". */
export const CHIPS_SHOWN = 12;
/** How many labels the search box suggests at once. */
export const SUGGESTIONS = 8;
/** The minimum-confidence choices (percent); 0 is any. */
export const CONFIDENCE_CHOICES = [0, 50, 80, 90];

export const LABELS_EMPTY =
  "Labels appear here once an upload is labeled. Upload a photo above, then find it again by what is in it.";

/**
 * The key a label is indexed and searched under, as `labeler.label_index.label_key` computes it
 * (`" ".join(name.split()).casefold()`; lower case is the same for the English names labels have):
 * "Tabby Cat", " tabby  cat " -> "tabby cat".
 */
export function labelKey(name) {
  return String(name ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
}

/** An owner as the start of a partition key: `#` and `%` percent-encoded (`owner_part`). */
export function ownerPart(owner) {
  return owner.replace(/%/g, "%25").replace(/#/g, "%23");
}

/** @typedef {{partitionKey: string, sortKey: string, entriesInfix: string, countsSuffix: string,
 *   countAttribute: string}} LabelIndexKeys */

/** The partition of a label's entries (one per image it finds): `<owner>#label#<key>`. */
export function entriesPartition(index, owner, key) {
  return `${ownerPart(owner)}${index.entriesInfix}${key}`;
}

/** The partition of the owner's counts (one item per label key): `<owner>#counts`. */
export function countsPartition(index, owner) {
  return `${ownerPart(owner)}${index.countsSuffix}`;
}

/** @typedef {{key: string, name: string, images: number}} LabelCount */

/** Most images first, then by key (the name in lower case), as `labeler labels` lists them. */
const mostImagesFirst = (a, b) => b.images - a.images || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * The counts items of one owner as chips: no label that finds no image any more, most images first.
 * @param {LabelIndexKeys} index
 * @returns {LabelCount[]}
 */
export function labelCounts(items, index) {
  return items
    .map((item) => ({
      key: item[index.sortKey],
      name: item.Name || item[index.sortKey],
      images: Number(item[index.countAttribute] ?? 0),
    }))
    .filter((count) => typeof count.key === "string" && count.key !== "" && count.images > 0)
    .sort(mostImagesFirst);
}

/** "1 image", "3 images". */
export function imagesText(count) {
  return `${count} ${count === 1 ? "image" : "images"}`;
}

/**
 * The chips to show and the toggle between some and all of them.
 * @param {LabelCount[]} counts
 * @returns {{shown: LabelCount[], toggle: string | null}} toggle: the button's text, null for no button
 */
export function chipsView(counts, expanded, limit = CHIPS_SHOWN) {
  if (counts.length <= limit) {
    return { shown: counts, toggle: null };
  }
  return expanded
    ? { shown: counts, toggle: "Show fewer labels" }
    : { shown: counts.slice(0, limit), toggle: `Show all ${counts.length} labels` };
}

/**
 * The labels that match what was typed, best first: the label itself, labels starting with it, labels
 * with a word starting with it, then labels containing it; within each, most images first.
 * @param {LabelCount[]} counts
 */
export function suggest(counts, text, limit = SUGGESTIONS) {
  const query = labelKey(text);
  if (query === "") {
    return [];
  }
  const rank = (key) => {
    if (key === query) return 0;
    if (key.startsWith(query)) return 1;
    if (key.split(" ").some((word) => word.startsWith(query))) return 2;
    return key.includes(query) ? 3 : -1;
  };
  return counts
    .map((count) => ({ count, rank: rank(count.key) }))
    .filter(({ rank }) => rank >= 0)
    .sort((a, b) => a.rank - b.rank || mostImagesFirst(a.count, b.count))
    .slice(0, limit)
    .map(({ count }) => count);
}

/** The label whose key is exactly what was typed, if there is one. */
export function findLabel(counts, text) {
  const key = labelKey(text);
  return key === "" ? undefined : counts.find((count) => count.key === key);
}

/**
 * The label a card's label name stands for: its chip when there is one, else its key (the chips may
 * not have caught up with a card labeled a moment ago).
 * @returns {{key: string, name: string}}
 */
export function labelFor(counts, name) {
  const key = labelKey(name);
  const count = counts.find((candidate) => candidate.key === key);
  return { key, name: count?.name ?? name };
}

/**
 * The option a key press makes active in a list of `length` (-1: none): down from none is the first,
 * up from none the last, and both wrap around.
 */
export function moveActive(active, delta, length) {
  if (length <= 0) {
    return -1;
  }
  if (active < 0 || active >= length) {
    return delta > 0 ? 0 : length - 1;
  }
  return (active + delta + length) % length;
}

/** A `<select>` value as one of the confidence choices (anything else is "any"). */
export function parseConfidence(value) {
  const number = Number(value);
  return CONFIDENCE_CHOICES.includes(number) ? number : 0;
}

/** "any confidence", "80% confidence or more". */
export function confidenceText(minConfidence) {
  return minConfidence > 0 ? `${minConfidence}% confidence or more` : "any confidence";
}

// --- the filter ------------------------------------------------------------------------------------

/** @typedef {{label: {key: string, name: string} | null, minConfidence: number}} Filter */

/** @type {Filter} */
export const NO_FILTER = Object.freeze({ label: null, minConfidence: 0 });

/**
 * The next filter. A label chosen while another is shown replaces it; the confidence is kept across
 * labels and clears; an event that changes nothing returns the filter as it was.
 * @param {Filter} filter
 * @param {{type: "choose", label: {key: string, name: string}} | {type: "toggle", label: {key: string,
 *   name: string}} | {type: "confidence", value: number} | {type: "clear"}} event
 * @returns {Filter}
 */
export function nextFilter(filter, event) {
  switch (event.type) {
    case "choose":
      return filter.label?.key === event.label.key ? filter : { ...filter, label: { ...event.label } };
    case "toggle":
      return filter.label?.key === event.label.key
        ? { ...filter, label: null }
        : { ...filter, label: { ...event.label } };
    case "confidence":
      return filter.minConfidence === event.value ? filter : { ...filter, minConfidence: event.value };
    case "clear":
      return filter.label === null ? filter : { ...filter, label: null };
    default:
      return filter;
  }
}

export const isFiltering = (filter) => filter.label !== null;

/** Is this filter one that must query again to show what `previous` did not? */
export function needsQuery(previous, next) {
  return (
    isFiltering(next) &&
    (previous.label?.key !== next.label.key || previous.minConfidence !== next.minConfidence)
  );
}

/** What the filter bar says: `Labeled “Cat”, any confidence`. */
export function filterText(filter) {
  return isFiltering(filter) ? `Labeled “${filter.label.name}”, ${confidenceText(filter.minConfidence)}` : "";
}

/** How many images the filtered list shows: "1 image", "24 images so far" (older ones to load). */
export function shownText(shown, more) {
  return more ? `${imagesText(shown)} so far` : imagesText(shown);
}

/** What the page says when a filter found nothing, and what to do about it. */
export function noImagesMessage(filter) {
  const name = filter.label?.name ?? "";
  return filter.minConfidence > 0
    ? `No image labeled “${name}” at ${filter.minConfidence}% confidence or more. Choose a lower confidence, or show all uploads.`
    : `No image of yours is labeled “${name}” any more. Pick another label, or show all uploads.`;
}

/** What the screen reader hears once a filter's first page is on screen. */
export function filterAnnouncement(filter, shown, more) {
  if (shown === 0) {
    return noImagesMessage(filter);
  }
  return `Showing ${shownText(shown, more)} labeled ${filter.label.name}, ${confidenceText(filter.minConfidence)}`;
}

/** What the search says when what was typed is no label of this identity's. */
export function noMatchMessage(text, counts) {
  if (counts.length === 0) {
    return `No labels yet, so nothing matches “${text.trim()}”: upload a photo first, and search once it is labeled.`;
  }
  return `No label of yours matches “${text.trim()}”. Try a broader word (a cat is also an “Animal”), or pick one of your labels below.`;
}

/** What the search says when Enter or Find leaves more than one label to choose from. */
export function chooseMessage(text, matches) {
  return `${matches} labels match “${text.trim()}”: pick one from the list.`;
}

/** The records a label's entries stand for, without those gone since (no record, or its tombstone). */
export function foundRecords(records) {
  return records.filter((record) => record !== undefined && record !== null && !isDeleted(record));
}
