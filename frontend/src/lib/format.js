/** Human-readable numbers for the cards. */

const UNITS = ["bytes", "KB", "MB", "GB"];

/** 1536 -> "1.5 KB" (binary multiples, one decimal below 10). */
export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) {
    return `${value} ${value === 1 ? "byte" : "bytes"}`;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** 850 -> "850 ms", 2430 -> "2.4 s", 65000 -> "1 min 5 s". */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) {
    return "";
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    const seconds = ms / 1000;
    return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  }
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** A confidence in percent: 38.0409 -> "38.0%". */
export function formatPercent(confidence) {
  return `${confidence.toFixed(1)}%`;
}

/** An ISO-8601 timestamp in the reader's locale and time zone ("" when it is not one). */
export function formatTime(iso, locale = undefined) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return "";
  }
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" }).format(date);
}
