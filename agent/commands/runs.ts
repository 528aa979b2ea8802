import { RunIdSchema } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { SseEvent } from "../../src/core/sse-reader.ts";
import { type CommandInput, defineCommand, type OptionSpecs } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { controlPlaneClientFor } from "../control-plane/client.ts";

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

export const command = defineCommand({
  name: "runs",
  summary: "get|events|cancel a run on the control plane",
  notes: "Control plane from --control-plane URL or THEORY_CONTROL_PLANE, token from THEORY_TOKEN.",
  subcommands: [
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
  ],
});
