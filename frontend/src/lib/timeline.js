/**
 * One execution as `/api/executions/<name>` explains it (`labeler_tools.ops.executions.ExecutionDetail`: its
 * states in order, each with its attempts), laid out as a timeline: where each state starts and how long
 * it lasts as a share of the execution, its retries, its errors, and how it ended.
 */

const time = (iso) => new Date(iso).getTime();
const share = (ms, totalMs) => Math.min(100, Math.max(0, (ms / totalMs) * 100));

function outcome(state, running, errors) {
  if (state.type === "Fail" || state.type === "Succeed") {
    return state.type === "Fail" ? "failed" : "succeeded";
  }
  if (!state.exited) {
    return running ? "running" : "failed";
  }
  // Every attempt failed: the state's Catch took over.
  return state.attempts.length > 0 && errors.length === state.attempts.length ? "failed" : "succeeded";
}

/**
 * @param {{execution: {started: string, stopped: string | null}, states: Array<{name: string,
 *   type: string, entered: string, exited: string | null,
 *   attempts: Array<{error: string | null, message: string | null}>}>}} detail
 * @param {number} now for a running execution, where its timeline ends (ms since the epoch)
 * @returns {{durationMs: number | null, rows: Array<{name: string, type: string, offset: number,
 *   width: number, durationMs: number | null, retries: number,
 *   errors: Array<{error: string, message: string}>, outcome: "succeeded" | "failed" | "running"}>}}
 *   offset and width in percent of the execution
 */
export function layoutTimeline(detail, now = Date.now()) {
  const running = !detail.execution.stopped;
  const start = time(detail.execution.started);
  const end = running ? now : time(detail.execution.stopped);
  const totalMs = Math.max(1, end - start);
  const rows = detail.states.map((state) => {
    const entered = time(state.entered);
    // A Fail or Succeed state ends the execution without an exit of its own.
    const exited = state.exited ? time(state.exited) : end;
    const errors = state.attempts
      .filter((attempt) => attempt.error)
      .map((attempt) => ({ error: attempt.error, message: attempt.message ?? "" }));
    return {
      name: state.name,
      type: state.type,
      offset: share(entered - start, totalMs),
      width: share(exited - entered, totalMs),
      durationMs: state.exited || !running ? exited - entered : null,
      retries: Math.max(0, state.attempts.length - 1),
      errors,
      outcome: outcome(state, running, errors),
    };
  });
  return { durationMs: running ? null : end - start, rows };
}
