// #/runs: GET /v1/runs with its filters and cursor pages, refreshed every two seconds.
import {
  RUN_PAGE_DEFAULT,
  RUN_STATES,
  type RunListQuery,
  RunListQuerySchema,
  type RunSummary,
} from "../../src/contract/api.ts";
import { TargetSchema } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { describeIssues } from "../../src/core/validation.ts";
import { fill, h, row, table } from "../dom.ts";
import { age, clock, duration } from "../format.ts";
import { every } from "../live.ts";
import { problem } from "../problems.ts";
import type { ViewContext } from "../view.ts";

const COLUMNS = ["Run", "State", "Ref", "Target", "Tags", "Age", "Duration"];
const REFRESH_MS = 2000;
const FILTERS = [
  "ref",
  "state",
  "target",
  "agent",
  "tag",
  "created_after",
  "created_before",
  "limit",
] as const;

export const runHref = (runId: string) => `#/runs/${encodeURIComponent(runId)}`;
const listHref = (params: URLSearchParams) => (params.size ? `#/runs?${params}` : "#/runs");

export function runsView({ main, session, signal, query }: ViewContext): void {
  const problems = h("div", { class: "problems" });
  const body = h("tbody");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  fill(
    main,
    h("h1", {}, "Runs"),
    filtersForm(query, session.client(signal)),
    problems,
    h("div", { class: "scroll" }, table("Runs, newest first", COLUMNS, body)),
    pager,
  );
  const parsed = RunListQuerySchema.safeParse(Object.fromEntries(query));
  if (!parsed.success) {
    fill(problems, problem(new TheoryError("ERR_INPUTS", describeIssues(parsed.error))));
    return;
  }
  const client = session.client(signal);
  void every(
    REFRESH_MS,
    signal,
    async () => {
      const page = await client.listRuns(parsed.data);
      showRuns(body, page.runs);
      showPager(pager, query, parsed.data, page.next_cursor);
      fill(problems);
    },
    (error) => fill(problems, problem(error)),
  );
}

/** The rows, replaced in place; the run link that had the focus keeps it. */
function showRuns(body: HTMLTableSectionElement, runs: RunSummary[]): void {
  const focused = body.contains(document.activeElement) ? document.activeElement?.getAttribute("href") : null;
  const now = Date.now();
  if (runs.length === 0) fill(body, h("tr", {}, h("td", { colspan: COLUMNS.length }, "No runs match.")));
  else fill(body, ...runs.map((run) => runRow(run, now)));
  if (focused) body.querySelector<HTMLElement>(`a[href="${CSS.escape(focused)}"]`)?.focus();
}

function runRow(run: RunSummary, now: number): HTMLTableRowElement {
  const created = Date.parse(run.created_at);
  const took = run.settled_at
    ? duration(Date.parse(run.settled_at) - created)
    : `${duration(now - created)} …`;
  return row(
    COLUMNS,
    [
      h("a", { href: runHref(run.run_id), class: "run-id" }, run.run_id),
      stateBadge(run.state),
      run.ref,
      run.agent ? `${run.target} · ${run.agent}` : run.target,
      tagList(run.tags ?? []),
      h("time", { datetime: run.created_at, title: clock(run.created_at) }, age(run.created_at, now)),
      took,
    ],
    { "data-run-id": run.run_id },
  );
}

export function stateBadge(state: string): HTMLElement {
  return h("span", { class: `state state-${state}`, "data-state": state }, state);
}

function tagList(tags: string[]): HTMLElement {
  return h(
    "span",
    { class: "tags" },
    ...tags.map((tag) => h("a", { class: "tag", href: listHref(new URLSearchParams({ tag })) }, tag)),
  );
}

/** First page and next page: the cursor is the only thing that changes between them. */
function showPager(
  pager: HTMLElement,
  params: URLSearchParams,
  query: RunListQuery,
  nextCursor: string | null,
): void {
  const at = (cursor: string | null) => {
    const next = new URLSearchParams(params);
    if (cursor) next.set("cursor", cursor);
    else next.delete("cursor");
    return listHref(next);
  };
  fill(
    pager,
    query.cursor ? h("a", { href: at(null) }, "← First page") : null,
    nextCursor ? h("a", { href: at(nextCursor), rel: "next" }, "Next page →") : null,
  );
}

/** The listing's filters; applying them starts again at the first page. */
function filtersForm(
  query: URLSearchParams,
  client: ReturnType<ViewContext["session"]["client"]>,
): HTMLElement {
  const value = (name: string) => query.get(name) ?? "";
  const refs = h("datalist", { id: "known-refs" });
  const agents = h("datalist", { id: "known-agents" });
  void client.listTools().then(
    (tools) => fill(refs, ...tools.map((tool) => h("option", { value: tool.ref }))),
    () => undefined,
  );
  void client.listAgents().then(
    (list) => fill(agents, ...list.map((agent) => h("option", { value: agent.agent_id }))),
    () => undefined,
  );
  /** A select of `options`, with "any" first unless the field always has a value (`fallback`). */
  const choice = (name: string, label: string, options: readonly string[], fallback?: string) => {
    const chosen = value(name) || fallback;
    return field(
      label,
      h(
        "select",
        { name },
        fallback ? null : h("option", { value: "" }, "any"),
        ...options.map((option) => h("option", { value: option, selected: chosen === option }, option)),
      ),
    );
  };
  const text = (name: string, label: string, list?: string) =>
    field(label, h("input", { name, value: value(name), list, autocomplete: "off", spellcheck: "false" }));
  const time = (name: string, label: string) =>
    field(label, h("input", { name, type: "datetime-local", step: 1, value: toLocalInput(value(name)) }));
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter runs" },
    text("ref", "Ref", "known-refs"),
    choice("state", "State", RUN_STATES),
    choice("target", "Target", TargetSchema.options),
    text("agent", "Agent", "known-agents"),
    text("tag", "Tag"),
    time("created_after", "Created after"),
    time("created_before", "Created before"),
    choice("limit", "Per page", ["20", "50", "100"], String(RUN_PAGE_DEFAULT)),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, "Apply"),
      h("a", { href: "#/runs", class: "button secondary" }, "Clear"),
    ),
    refs,
    agents,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const given = String(data.get(name) ?? "").trim();
      if (!given) continue;
      params.set(name, name.startsWith("created_") ? fromLocalInput(given) : given);
    }
    location.hash = listHref(params);
  });
  return form;
}

function field(label: string, control: HTMLElement): HTMLElement {
  return h("label", { class: "field" }, h("span", {}, label), control);
}

/** An ISO time as a datetime-local value (the browser's zone), or "" when there is none. */
function toLocalInput(iso: string): string {
  const time = Date.parse(iso);
  if (!iso || Number.isNaN(time)) return "";
  const local = new Date(time - new Date(time).getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

/** A datetime-local value (the browser's zone) as an ISO time with `Z`. */
function fromLocalInput(value: string): string {
  const time = new Date(value).getTime();
  return Number.isNaN(time) ? value : new Date(time).toISOString();
}
