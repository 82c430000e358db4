/**
 * A card's live status, from what the browser knows: its own upload, then the results record
 * (none while validate runs, then `Status` PROCESSING with `Stage` LABELING, then LABELED, REJECTED
 * or FAILED; DELETED is the tombstone a deleted upload leaves).
 */

/** @typedef {"refused" | "uploading" | "upload-failed" | "validating" | "labeling" | "labeled" |
 *   "rejected" | "failed" | "stale" | "deleted"} Phase */

/** @typedef {{phase: Phase, label: string, detail: string, terminal: boolean, progress?: number}}
 *   CardState */

const TERMINAL = new Set(["refused", "upload-failed", "labeled", "rejected", "failed", "stale", "deleted"]);
const LABELS = {
  refused: "Not uploaded",
  uploading: "Uploading",
  "upload-failed": "Upload failed",
  validating: "Validating",
  labeling: "Labeling",
  labeled: "Labeled",
  rejected: "Rejected",
  failed: "Failed",
  stale: "No result yet",
  deleted: "Deleted",
};

/**
 * What a rejection says when its record has no Reason (records always carry one; this is the backstop).
 * A Reason is shown as is: QUOTA_EXCEEDED's says when the daily quota resets.
 */
export const REJECTION_TEXT = {
  QUOTA_EXCEEDED: "The daily upload quota is used up; try again tomorrow.",
  OBJECT_NOT_READABLE: "The uploaded object cannot be read (its storage class or encryption); upload it again.",
};

function reason(record) {
  return record.Reason || REJECTION_TEXT[record.ErrorCode] || record.ErrorCode || "";
}

/** @returns {CardState} */
function state(phase, detail = "") {
  return { phase, label: LABELS[phase], detail, terminal: TERMINAL.has(phase) };
}

/**
 * @param {object | undefined} record the results item (PascalCase attributes), if there is one yet
 * @param {{phase: "refused" | "uploading" | "upload-failed" | "uploaded" | "stale", reason?: string,
 *   progress?: number}} upload what this page did with the file
 * @returns {CardState}
 */
export function cardState(record, upload) {
  if (record) {
    switch (record.Status) {
      case "LABELED":
        return state("labeled");
      case "REJECTED":
        return state("rejected", reason(record));
      case "FAILED":
        return state("failed", reason(record));
      case "DELETED":
        return state("deleted", "This upload was deleted.");
      default:
        // PROCESSING, or a status newer than this page: still working on it.
        return state(record.Stage === "LABELING" ? "labeling" : "validating");
    }
  }
  switch (upload.phase) {
    case "refused":
    case "upload-failed":
      return state(upload.phase, upload.reason ?? "");
    case "uploading": {
      const progress = upload.progress ?? 0;
      return { ...state("uploading"), label: `Uploading ${Math.round(progress * 100)}%`, progress };
    }
    case "stale":
      return state("stale", "The pipeline has not finished this image; reload the page later.");
    default:
      // Uploaded: the record appears once validate has accepted the image (or rejected it).
      return state("validating");
  }
}

/** One line for screen readers when a card changes: "cat.jpg: labeled, Tiger Cat 38.0%". */
export function announcement(name, cardState, topLabel = "") {
  const parts = [cardState.label.toLowerCase(), cardState.detail, topLabel].filter(Boolean);
  return `${name}: ${parts.join(", ")}`;
}
