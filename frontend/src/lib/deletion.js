/**
 * Deleting an upload: the card's delete as a small state machine, the errors it shows, and "My uploads"
 * without the DELETED tombstones that the backend's cleanup leaves for a day.
 *
 * idle --click--> sending --sent--> confirming --record gone or DELETED--> deleted
 *                    |                   |
 *                  error               timeout
 *                    v                   v
 *                 failed --click-->   lingering --click--> sending (DeleteObject is idempotent)
 */

/** @typedef {"idle" | "sending" | "confirming" | "deleted" | "failed" | "lingering"} DeletionPhase */
/** @typedef {{phase: DeletionPhase, message: string}} Deletion */

/** The cleanup should follow the delete within seconds; past this the card says so and stays. */
export const CONFIRM_WITHIN_MS = 60 * 1000;

export const LINGERING_MESSAGE =
  "The image was deleted, but its result is still listed. Reload the page later, or delete again.";

/** @type {Deletion} */
export const IDLE = Object.freeze({ phase: "idle", message: "" });

/** A record the page must treat as gone: the cleanup's tombstone. */
export function isDeleted(record) {
  return record?.Status === "DELETED";
}

/** After the delete was sent: no record any more, or its tombstone, means the upload is gone. */
export function deleteConfirmed(record) {
  return record === undefined || isDeleted(record);
}

/**
 * The next state of a card's delete. Events that do not apply to the current state change nothing,
 * so a second click while a delete is on its way is ignored.
 * @param {Deletion} current
 * @param {{type: "click"} | {type: "sent"} | {type: "error", error: unknown} |
 *   {type: "record", record: object | undefined} | {type: "timeout"}} event
 * @returns {Deletion}
 */
export function nextDeletion(current, event) {
  switch (event.type) {
    case "click":
      return ["idle", "failed", "lingering"].includes(current.phase) ? { phase: "sending", message: "" } : current;
    case "sent":
      return current.phase === "sending" ? { phase: "confirming", message: "" } : current;
    case "error":
      return current.phase === "sending" ? { phase: "failed", message: deleteErrorMessage(event.error) } : current;
    case "record":
      return current.phase === "confirming" && deleteConfirmed(event.record)
        ? { phase: "deleted", message: "" }
        : current;
    case "timeout":
      return current.phase === "confirming" ? { phase: "lingering", message: LINGERING_MESSAGE } : current;
    default:
      return current;
  }
}

/** What the card shows for a delete state: is the button usable, what it and the status say. */
export function deletionView(deletion, name) {
  const busy = deletion.phase === "sending" || deletion.phase === "confirming";
  return {
    busy,
    disabled: busy || deletion.phase === "deleted",
    buttonText: busy ? "Deleting…" : "Delete",
    buttonLabel: `Delete ${name}`,
    status: busy ? "Deleting…" : "",
    message: deletion.message,
  };
}

/** A sentence for a DeleteObject that failed: the upload is still there, and the button works again. */
export function deleteErrorMessage(error) {
  const name = error?.name ?? error?.Code ?? "";
  const status = error?.$metadata?.httpStatusCode;
  if (name === "AccessDenied" || status === 403) {
    return "Not deleted: access denied (a guest can delete only its own uploads). Nothing was removed.";
  }
  if (name === "TypeError" || name === "TimeoutError" || /network|fetch|timed? ?out/i.test(error?.message ?? "")) {
    return "Not deleted: the storage service could not be reached. Nothing was removed; try again.";
  }
  const detail = error?.message || name || "unknown error";
  return `Not deleted: ${detail}. Nothing was removed; try again.`;
}

/** The records "My uploads" lists: never a tombstone (the Query filters them; this is the backstop). */
export function visibleRecords(records) {
  return records.filter((record) => !isDeleted(record));
}

/**
 * One page of "My uploads" from a filtered Query. DynamoDB applies `Limit` before the filter, so a page
 * can come back short or empty with a cursor: ask again for what is missing, a few times at most.
 * @param {(request: {limit: number, cursor: unknown}) => Promise<{records: object[], cursor: unknown}>} query
 */
export async function collectPage(query, { limit, cursor = undefined, maxRounds = 4 }) {
  const records = [];
  let next = cursor;
  let rounds = 0;
  do {
    const page = await query({ limit: limit - records.length, cursor: next });
    records.push(...visibleRecords(page.records));
    next = page.cursor;
    rounds += 1;
  } while (next !== undefined && records.length < limit && rounds < maxRounds);
  return { records, cursor: next };
}
