// #/runs/{id}: the run's events as they stream (resumed with Last-Event-ID by the client), then its
// envelope, timeline and outputs; cancel while it runs, for a token with runs:write.
import { isTerminal, type RunResource } from "../../src/contract/api.ts";
import { DONE_EVENT, TRUNCATED_EVENT } from "../../src/contract/run-events.ts";
import type { SseEvent } from "../../src/core/sse-reader.ts";
import { append, fill, h, row, table } from "../dom.ts";
import { problem } from "../problems.ts";
import type { ViewContext } from "../view.ts";
import { showSettled } from "./run-result.ts";
import { runHref, stateBadge } from "./runs.ts";

const EVENT_COLUMNS = ["#", "Event", "Detail"];
const DETAIL_CHARS = 300;

export function runView({ main, session, signal, path }: ViewContext): void {
  const runId = path[0] ?? "";
  const client = session.client(signal);
  const state = h("span", { class: "run-state" });
  const summary = h("dl", { class: "summary" });
  const actions = h("div", { class: "actions" });
  const streamStatus = h("p", { class: "status", role: "status" }, "Connecting to the event stream…");
  const tokens = h("pre", { id: "tokens", class: "tokens", "aria-label": "Streamed tokens" });
  const events = h("tbody");
  const problems = h("div", { class: "problems" });
  const settled = h("div", { class: "settled" });
  fill(
    main,
    h("p", {}, h("a", { href: "#/runs" }, "← Runs")),
    h("h1", {}, "Run ", h("code", {}, runId), " ", state),
    summary,
    actions,
    problems,
    h(
      "section",
      { "aria-labelledby": "stream-heading" },
      h("h2", { id: "stream-heading" }, "Live events"),
      streamStatus,
      tokens,
      h("div", { class: "scroll" }, table("The run's events, in order", EVENT_COLUMNS, events)),
    ),
    settled,
  );

  const showState = (value: string) => fill(state, stateBadge(value));
  let tokenCount = 0;

  const follow = async () => {
    const run = await client.getRun(runId);
    showState(run.state);
    showSummary(summary, run);
    streamStatus.textContent = "Following the run's events…";
    if (session.can("runs:write") && !isTerminal(run.state)) fill(actions, cancelButton());
    for await (const event of client.events(runId)) {
      if (event.event === "Token") {
        append(tokens, tokenText(event));
        tokenCount++;
        streamStatus.textContent = `Streaming: ${tokenCount} tokens`;
        continue;
      }
      if (event.event === "Ack") showState("running");
      if (event.event === DONE_EVENT) break;
      append(events, row(EVENT_COLUMNS, [event.id ?? "", event.event, detail(event)]));
    }
    streamStatus.textContent = `Settled: ${tokenCount} tokens streamed`;
    fill(actions);
    const final = await showSettled(settled, client, runId);
    showState(final.state);
  };

  const cancelButton = () => {
    const button = h("button", { type: "button", class: "danger", id: "cancel-run" }, "Cancel run");
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Canceling…";
      try {
        await client.cancelRun(runId);
        button.textContent = "Cancel sent";
      } catch (error) {
        button.disabled = false;
        button.textContent = "Cancel run";
        fill(problems, problem(error, "Cancel failed"));
      }
    });
    return button;
  };

  follow().catch((error) => {
    if (signal.aborted) return;
    streamStatus.textContent = "Stopped following the run.";
    fill(problems, problem(error));
  });
}

function showSummary(summary: HTMLElement, run: RunResource): void {
  const entry = (term: string, value: Node | string | undefined) =>
    value === undefined ? [] : [h("dt", {}, term), h("dd", {}, value)];
  const metadata = Object.entries(run.metadata ?? {});
  const link = (other: string) => h("a", { href: runHref(other) }, h("code", {}, other));
  const replays = (run.replays ?? []).flatMap((other, i) => (i ? [", ", link(other)] : [link(other)]));
  fill(
    summary,
    ...entry("Ref", run.ref),
    ...entry("Target", run.agent ? `${run.target} · ${run.agent}` : run.target),
    ...entry("Tags", run.tags?.length ? run.tags.join(", ") : undefined),
    ...entry("Metadata", metadata.length ? metadata.map(([k, v]) => `${k}=${v}`).join(", ") : undefined),
    ...entry("Replay of", run.replay_of ? link(run.replay_of) : undefined),
    ...entry("Replays", replays.length ? h("span", {}, ...replays) : undefined),
  );
}

/** A Token frame's text (`{"kind":"Token","content":{"text"}}`); nothing for anything else. */
function tokenText(event: SseEvent): string {
  const frame = parse(event.data) as { content?: { text?: unknown } } | undefined;
  return typeof frame?.content?.text === "string" ? frame.content.text : "";
}

/** One line about a frame that is not a token. */
function detail(event: SseEvent): string {
  const frame = parse(event.data) as { content?: Record<string, unknown> } | undefined;
  const content = frame?.content ?? {};
  let text: string;
  switch (event.event) {
    case "Ack":
      text = "acknowledged by the processor";
      break;
    case "Log":
      text = `[${String(content.level)}] ${String(content.message)}`;
      break;
    case "Event":
      text = `${String(content.name)} ${JSON.stringify(content.data ?? null)}`;
      break;
    case "RunResult":
      text = `result: ${String(content.status)}`;
      break;
    case TRUNCATED_EVENT:
      text = "the replay stops here: the run outgrew what it may store";
      break;
    default:
      text = event.data;
  }
  return text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS)}…` : text;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
