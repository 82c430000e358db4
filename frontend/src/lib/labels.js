/** Labels and bounding boxes as the card shows them. */

import { formatPercent } from "./format.js";

/** Highest confidence first (the pipeline stores them sorted; records from elsewhere may not be). */
export function sortByConfidence(labels) {
  return [...(labels ?? [])].sort((a, b) => b.Confidence - a.Confidence);
}

const clamp = (value) => Math.min(1, Math.max(0, value));
const percent = (ratio) => `${+(ratio * 100).toFixed(3)}%`;

/**
 * A Rekognition BoundingBox (ratios of the image's width and height) as CSS percentages of the image,
 * clipped to the image; null when nothing of it is inside or the box is malformed.
 */
export function boxRect(box) {
  const values = [box?.Left, box?.Top, box?.Width, box?.Height];
  if (!values.every(Number.isFinite)) {
    return null;
  }
  const left = clamp(box.Left);
  const top = clamp(box.Top);
  const right = clamp(box.Left + box.Width);
  const bottom = clamp(box.Top + box.Height);
  if (right <= left || bottom <= top) {
    return null;
  }
  return {
    left: percent(left),
    top: percent(top),
    width: percent(right - left),
    height: percent(bottom - top),
  };
}

/** Every instance of every label that has a drawable box: {name, title, rect}. */
export function instanceBoxes(labels) {
  return sortByConfidence(labels).flatMap((label) =>
    (label.Instances ?? []).flatMap((instance) => {
      const rect = boxRect(instance.BoundingBox);
      const title = `${label.Name} ${formatPercent(instance.Confidence)}`;
      return rect ? [{ name: label.Name, title, rect }] : [];
    }),
  );
}
