/** What the page checks before sending anything (the pipeline checks again, from the bytes). */

import { formatBytes } from "./format.js";

const EXTENSION_BY_TYPE = { "image/jpeg": "jpg", "image/png": "png" };
const EXTENSION_BY_SUFFIX = { jpg: "jpg", jpeg: "jpg", jpe: "jpg", png: "png" };

function suffix(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

/**
 * @param {{name: string, type: string, size: number}} file
 * @param {number} maxBytes the pipeline's limit (config.json's maxUploadBytes: its TOO_LARGE)
 * @returns {{ok: true, extension: string, contentType: string} | {ok: false, reason: string}}
 */
export function checkFile({ name, type, size }, maxBytes) {
  // Browsers derive `type` from the name; an empty type leaves only the name to go by.
  const extension = type ? EXTENSION_BY_TYPE[type] : EXTENSION_BY_SUFFIX[suffix(name)];
  if (extension === undefined) {
    const what = type || (suffix(name) ? `.${suffix(name)}` : "no file type");
    return { ok: false, reason: `Only JPEG and PNG images can be labeled (this is ${what}).` };
  }
  if (size === 0) {
    return { ok: false, reason: "The file is empty." };
  }
  if (size > maxBytes) {
    return {
      ok: false,
      reason: `The file is ${formatBytes(size)}; the limit is ${formatBytes(maxBytes)}.`,
    };
  }
  return { ok: true, extension, contentType: extension === "png" ? "image/png" : "image/jpeg" };
}

/** 32 random hex digits (crypto.randomUUID needs a secure context; a LAN address over HTTP is not one). */
export function randomName(random = (bytes) => crypto.getRandomValues(bytes)) {
  return Array.from(random(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * `uploads/<identity id>/<random>.<ext>`: the guest may write only under its own identity id, and the
 * object name is generated (the original name travels as metadata).
 */
export function objectKey(prefix, identityId, id, extension) {
  return `${prefix}${identityId}/${id}.${extension}`;
}
