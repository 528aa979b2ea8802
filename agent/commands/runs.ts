import { resolve } from "node:path";
import {
  MAX_RUN_PAGE,
  RUN_PAGE_DEFAULT,
  RunListQuerySchema,
  type RunSummary,
} from "../../src/contract/api.ts";
import { RunIdSchema } from "../../src/contract/primitives.ts";
import { canonicalJson } from "../../src/core/canonical.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { SseEvent } from "../../src/core/sse-reader.ts";
import { parseOrThrow } from "../../src/core/validation.ts";
import { type CommandInput, defineCommand, type OptionSpecs, positiveIntFlag } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { controlPlaneClientFor } from "../control-plane/client.ts";
import { downloadRun } from "../control-plane/download.ts";

const RUN_ID = [{ name: "ID", description: "the run's id" }] as const;

/** The one positional the parser checked is there. */
function runIdOf(positionals: string[]): string {
  const runId = positionals[0] as string;
  if (!RunIdSchema.safeParse(runId).success)
    throw new TheoryError("ERR_INPUTS", "a run id is 1-128 of [A-Za-z0-9_-], starting alphanumeric");
  return runId;
}

/** One event as a JSON line; `data` (JSON text from the control plane) spliced in unchanged, as the API's WebSocket form does. */
export function eventLine(event: SseEvent): string {
  let data: string;
  try {
    const value = JSON.parse(event.data);
    data = /[\r\n]/.test(event.data) ? JSON.stringify(value) : event.data;
  } catch {
    data = JSON.stringify(event.data);
  }
  const id =
    event.id === undefined ? "" : `"id":${/^[0-9]+$/.test(event.id) ? event.id : JSON.stringify(event.id)},`;
  return `{${id}"event":${JSON.stringify(event.event)},"data":${data}}\n`;
}

async function get({ positionals }: CommandInput, context: CliContext): Promise<CommandResult> {
  return { value: await controlPlaneClientFor(context).getRun(runIdOf(positionals)) };
}

async function cancel({ positionals }: CommandInput, context: CliContext): Promise<CommandResult> {
  return { value: await controlPlaneClientFor(context).cancelRun(runIdOf(positionals)) };
}

const EVENTS_OPTIONS = {
  after: { type: "string", placeholder: "N", description: "only the events after event id N (default 0)" },
} as const satisfies OptionSpecs;

async function events(
  { values, positionals }: CommandInput<typeof EVENTS_OPTIONS>,
  context: CliContext,
): Promise<CommandResult> {
  const runId = runIdOf(positionals);
  if (values.after !== undefined && !/^[0-9]+$/.test(values.after))
    throw new TheoryError("ERR_INPUTS", "--after takes an event id (a whole number)");
  const client = controlPlaneClientFor(context);
  // Each line as it arrives: a live run's events are the result, streamed.
  for await (const event of client.events(runId, { after: Number(values.after ?? 0) }))
    process.stdout.write(eventLine(event));
  return { raw: "" };
}

const LIST_OPTIONS = {
  ref: { type: "string", placeholder: "R", description: "only runs of this tool" },
  state: {
    type: "string",
    placeholder: "STATE",
    description: "only runs in this state: queued|running|succeeded|failed|canceled",
  },
  target: { type: "string", placeholder: "local|modal", description: "only runs on this target" },
  agent: { type: "string", placeholder: "ID", description: "only runs on this agent" },
  tag: { type: "string", placeholder: "TAG", description: "only runs with this tag" },
  "created-after": { type: "string", placeholder: "TIME", description: "only runs created after (ISO 8601)" },
  "created-before": {
    type: "string",
    placeholder: "TIME",
    description: "only runs created before (ISO 8601)",
  },
  limit: {
    type: "string",
    placeholder: "N",
    description: `at most N runs, across pages (default ${RUN_PAGE_DEFAULT})`,
  },
  cursor: { type: "string", placeholder: "C", description: "start after a listing's next cursor" },
} as const satisfies OptionSpecs;

/** Largest --limit: enough pages for anyone reading a table. */
const MAX_LISTED = 100 * MAX_RUN_PAGE;

/** A terminal's table: one run a line, the columns that tell runs apart. */
function table(runs: RunSummary[]): string {
  const rows = [
    ["RUN", "REF", "TARGET", "STATE", "CREATED", "TAGS"],
    ...runs.map((run) => [
      run.run_id,
      run.ref,
      run.agent ? `${run.target}:${run.agent}` : run.target,
      run.state,
      run.created_at.replace(/\.\d{3}Z$/, "Z"),
      (run.tags ?? []).join(","),
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function list(
  { values }: CommandInput<typeof LIST_OPTIONS>,
  context: CliContext,
): Promise<CommandResult> {
  const max = positiveIntFlag(values.limit, "--limit", MAX_LISTED) ?? RUN_PAGE_DEFAULT;
  const query = parseOrThrow(
    RunListQuerySchema,
    {
      ref: values.ref,
      state: values.state,
      target: values.target,
      agent: values.agent,
      tag: values.tag,
      created_after: values["created-after"],
      created_before: values["created-before"],
      cursor: values.cursor,
    },
    "runs list",
  );
  const client = controlPlaneClientFor(context);
  const runs: RunSummary[] = [];
  let next: string | null = null;
  for await (const page of client.pages(query, max)) {
    runs.push(...page.runs);
    next = page.next_cursor;
  }
  if (next)
    context.log.info("runs.list.more", { next_cursor: next, hint: "--cursor C lists the runs after these" });
  if (process.stdout.isTTY && !values.json) return { raw: runs.length ? `${table(runs)}\n` : "" };
  return { raw: runs.map((run) => `${canonicalJson(run)}\n`).join("") };
}

const DOWNLOAD_OPTIONS = {
  out: { type: "string", placeholder: "DIR", description: "where the files go (default ./ID)" },
} as const satisfies OptionSpecs;

async function download(
  { values, positionals }: CommandInput<typeof DOWNLOAD_OPTIONS>,
  context: CliContext,
): Promise<CommandResult> {
  const runId = runIdOf(positionals);
  const dir = resolve(values.out ?? runId);
  return { value: await downloadRun(controlPlaneClientFor(context), runId, dir) };
}

export const command = defineCommand({
  name: "runs",
  summary: "list|get|events|cancel|download runs on the control plane",
  notes: "Control plane from --control-plane URL or THEORY_CONTROL_PLANE, token from THEORY_TOKEN.",
  subcommands: [
    defineCommand({
      name: "list",
      summary: "runs, newest first, filtered: a table on a terminal, else (or with --json) NDJSON",
      options: LIST_OPTIONS,
      run: list,
    }),
    defineCommand({
      name: "get",
      summary: "the run resource {run_id, ref, target, state, envelope|null}",
      positionals: RUN_ID,
      run: get,
    }),
    defineCommand({
      name: "events",
      summary: "the run's events as NDJSON {id, event, data} (replay, then live), ending with done",
      options: EVENTS_OPTIONS,
      positionals: RUN_ID,
      run: events,
    }),
    defineCommand({
      name: "cancel",
      summary: "cancel the run (it settles ERR_CANCELED)",
      positionals: RUN_ID,
      run: cancel,
    }),
    defineCommand({
      name: "download",
      summary: "write the run's world-scope outputs and outputs.json below DIR, checked against its proof",
      options: DOWNLOAD_OPTIONS,
      positionals: RUN_ID,
      run: download,
    }),
  ],
});
