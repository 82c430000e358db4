/**
 * Local only: recent executions of the state machine, and one as a timeline (states, durations, retries,
 * errors), from `labeler local`'s /api/executions (the same reading as `labeler executions`). On AWS the
 * Step Functions console does this.
 */

import { el } from "./lib/cards.js";
import { loadConfig } from "./lib/config.js";
import { formatDuration, formatTime } from "./lib/format.js";
import { layoutTimeline } from "./lib/timeline.js";

const REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.message ?? `HTTP ${response.status}`);
  }
  return body;
}

const statusBadge = (status) => el("span", { className: `badge status-${status.toLowerCase()}` }, status);
const selectedName = () => decodeURIComponent(window.location.hash.slice(1));

function renderList(executions) {
  const selected = selectedName();
  $("executions").replaceChildren(
    ...executions.map((execution) => {
      const link = el("a", { href: `#${encodeURIComponent(execution.name)}` }, formatTime(execution.started));
      if (execution.name === selected) {
        link.setAttribute("aria-current", "true");
      }
      const duration = execution.stopped
        ? formatDuration(new Date(execution.stopped) - new Date(execution.started))
        : "running";
      return el(
        "tr",
        {},
        el("td", {}, link),
        el("td", { className: "key" }, execution.key ?? "–"),
        el("td", {}, statusBadge(execution.status)),
        el("td", {}, duration),
      );
    }),
  );
  $("executions-empty").hidden = executions.length > 0;
}

function stateItem(row) {
  const span = el("span", { className: "span" });
  span.style.marginLeft = `${row.offset}%`;
  span.style.width = `${Math.max(0.5, row.width)}%`;
  const track = el("span", { className: "track" }, span);
  track.setAttribute("aria-hidden", "true");
  const facts = [
    row.durationMs === null ? "running" : formatDuration(row.durationMs),
    row.retries ? `${row.retries} ${row.retries === 1 ? "retry" : "retries"}` : "",
  ];
  return el(
    "li",
    { className: `step outcome-${row.outcome}` },
    el("span", { className: "step-name" }, row.name, el("small", {}, ` ${row.type}`)),
    track,
    el("span", { className: "step-facts" }, facts.filter(Boolean).join(", ")),
    row.errors.length > 0
      ? el(
          "ul",
          { className: "step-errors" },
          ...row.errors.map(({ error, message }) => el("li", {}, el("code", {}, error), " ", message)),
        )
      : null,
  );
}

function renderExecution(detail) {
  const { execution } = detail;
  const timeline = layoutTimeline(detail);
  const labels = detail.labels.length > 0 ? `: ${detail.labels.join(", ")}` : "";
  const parts = [
    el("h2", { id: "execution-heading" }, "Execution ", el("code", {}, execution.name)),
    el(
      "p",
      { className: "summary" },
      statusBadge(execution.status),
      ` ${execution.key ?? ""} · started ${formatTime(execution.started)} · `,
      timeline.durationMs === null ? "running" : formatDuration(timeline.durationMs),
    ),
    detail.outcome && el("p", { className: "outcome" }, `Outcome: ${detail.outcome}${labels}`),
    detail.error &&
      el("p", { className: "execution-error" }, el("code", {}, detail.error), " ", detail.message ?? ""),
    el("ol", { className: "timeline" }, ...timeline.rows.map(stateItem)),
  ];
  $("execution").replaceChildren(...parts.filter(Boolean));
  $("execution").hidden = false;
  return execution.status === "RUNNING";
}

/** Show the list and the selected execution; true while something shown is still running. */
async function refresh() {
  const { executions } = await getJson("api/executions");
  renderList(executions);
  let running = executions.some((execution) => execution.status === "RUNNING");
  const name = selectedName();
  if (name) {
    running = renderExecution(await getJson(`api/executions/${encodeURIComponent(name)}`)) || running;
  } else {
    $("execution").hidden = true;
  }
  document.body.dataset.ready = "true";
  return running;
}

let timer;

async function update() {
  clearTimeout(timer);
  try {
    const running = await refresh();
    $("page-error").hidden = true;
    if (running) {
      timer = setTimeout(update, REFRESH_MS);
    }
  } catch (error) {
    $("page-error").textContent = `Executions are not available: ${error.message}`;
    $("page-error").hidden = false;
  }
}

async function start() {
  const config = await loadConfig();
  if (!config.local) {
    const consoleUrl = `https://${config.region}.console.aws.amazon.com/states/home?region=${config.region}`;
    $("page-error").replaceChildren(
      "This view is part of labeler local. On AWS, see the ",
      el("a", { href: consoleUrl }, "Step Functions console"),
      ".",
    );
    $("page-error").hidden = false;
    return;
  }
  window.addEventListener("hashchange", update);
  $("refresh").addEventListener("click", update);
  await update();
}

start().catch((error) => {
  $("page-error").textContent = `The page could not start: ${error.message}`;
  $("page-error").hidden = false;
  console.error(error);
});
