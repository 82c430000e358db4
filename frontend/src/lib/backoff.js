/** Poll delays: quick at first (a label takes a few seconds), then backing off to a ceiling. */

export const POLL = { firstMs: 400, factor: 1.5, maxMs: 4000 };
/** The state machine times out after 15 minutes; a card that has no outcome by then stops asking. */
export const GIVE_UP_MS = 16 * 60 * 1000;

/** The wait before poll number `attempt` (0-based) since the card's status last changed. */
export function pollDelay(attempt, { firstMs, factor, maxMs } = POLL) {
  return Math.min(maxMs, Math.round(firstMs * factor ** attempt));
}
