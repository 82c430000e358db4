/**
 * Small previews of this browser's uploads, kept in localStorage so "My uploads" still shows them after a
 * reload (a guest may upload, not download). The oldest go first when the limit or the quota is reached.
 */

const INDEX = "labeler:thumbnails";
const PREFIX = "labeler:thumbnail:";
export const THUMBNAIL_LIMIT = 40;

export class ThumbnailStore {
  /** @param {Storage} storage */
  constructor(storage, limit = THUMBNAIL_LIMIT) {
    this.storage = storage;
    this.limit = limit;
  }

  get(key) {
    return this.storage.getItem(PREFIX + key);
  }

  /** Keep `dataUrl` for `key`; false when even alone it does not fit. */
  put(key, dataUrl) {
    const keys = this.keys().filter((kept) => kept !== key);
    keys.push(key);
    while (keys.length > this.limit) {
      this.storage.removeItem(PREFIX + keys.shift());
    }
    for (;;) {
      try {
        this.storage.setItem(PREFIX + key, dataUrl);
        this.storage.setItem(INDEX, JSON.stringify(keys));
        return true;
      } catch {
        // Over quota: drop the oldest and try again.
        if (keys.length <= 1) {
          this.storage.removeItem(PREFIX + key);
          this.storage.setItem(INDEX, JSON.stringify(keys.filter((kept) => kept !== key)));
          return false;
        }
        this.storage.removeItem(PREFIX + keys.shift());
      }
    }
  }

  /** Forget the preview of `key` (its upload was deleted). */
  remove(key) {
    this.storage.removeItem(PREFIX + key);
    this.storage.setItem(INDEX, JSON.stringify(this.keys().filter((kept) => kept !== key)));
  }

  keys() {
    try {
      const keys = JSON.parse(this.storage.getItem(INDEX) ?? "[]");
      return Array.isArray(keys) ? keys.filter((key) => typeof key === "string") : [];
    } catch {
      return [];
    }
  }
}
