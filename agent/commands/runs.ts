import { RunIdSchema } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { CliContext, Command, CommandResult } from "../cli/context.ts";
import { parseFlags } from "../cli/flags.ts";
import { controlPlaneClientFor, type SseEvent } from "../control-plane/client.ts";

const USAGE = `usage: theory runs <subcommand> [--json]
  get    ID              the run resource {run_id, ref, target, state, envelope|null}
  events ID [--after N]  the run's events as NDJSON {id, event, data} (replay, then live), ending with done
  cancel ID              cancel the run (it settles ERR_CANCELED)
Control plane from --control-plane URL or THEORY_CONTROL_PLANE, token from THEORY_TOKEN.
`;

function runIdOf(positionals: string[], subcommand: string): string {
  if (positionals.length !== 1)
    throw new TheoryError("ERR_INPUTS", `give one run id: theory runs ${subcommand} ID`);
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

async function get(args: string[], context: CliContext): Promise<CommandResult> {
  const { positionals } = parseFlags(args, {}, true);
  return { value: await controlPlaneClientFor(context).getRun(runIdOf(positionals, "get")) };
}

async function cancel(args: string[], context: CliContext): Promise<CommandResult> {
  const { positionals } = parseFlags(args, {}, true);
  return { value: await controlPlaneClientFor(context).cancelRun(runIdOf(positionals, "cancel")) };
}

async function events(args: string[], context: CliContext): Promise<CommandResult> {
  const { values, positionals } = parseFlags(args, { after: { type: "string" } }, true);
  const runId = runIdOf(positionals, "events");
  if (values.after !== undefined && !/^[0-9]+$/.test(values.after))
    throw new TheoryError("ERR_INPUTS", "--after takes an event id (a whole number)");
  const client = controlPlaneClientFor(context);
  // Each line as it arrives: a live run's events are the result, streamed.
  for await (const event of client.events(runId, { after: Number(values.after ?? 0) }))
    process.stdout.write(eventLine(event));
  return { raw: "" };
}

const SUBCOMMANDS: Record<string, (args: string[], context: CliContext) => Promise<CommandResult>> = {
  get,
  events,
  cancel,
};

export const command: Command = {
  summary: "get|events|cancel a run on the control plane",
  async run(args, context) {
    const [name, ...rest] = args;
    if (name === "--help" || name === "-h" || rest.includes("--help") || rest.includes("-h"))
      return { raw: USAGE };
    if (name === undefined)
      throw new TheoryError("ERR_INPUTS", "give a subcommand: get|events|cancel (see --help)");
    const subcommand = SUBCOMMANDS[name];
    if (!subcommand) throw new TheoryError("ERR_INPUTS", `unknown runs subcommand ${JSON.stringify(name)}`);
    return subcommand(rest, context);
  },
};
