import { isTerminal, type RunRequest, RunRequestSchema } from "../../src/contract/api.ts";
import { ProcessorFrameSchema } from "../../src/contract/frames.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import { describeIssues } from "../../src/core/validation.ts";
import type { CliContext, Command, CommandResult } from "../cli/context.ts";
import { parseFlags } from "../cli/flags.ts";
import { INPUT_OPTIONS, readInputs } from "../cli/inputs.ts";
import { type ControlPlaneClient, controlPlaneClientFor, DONE_EVENT } from "../control-plane/client.ts";

const USAGE = `usage: theory run --ref R --target local|modal [--agent ID] [--mode mock|real]
         (--inputs-json JSON | --inputs-file PATH | --inputs -) [--scope local|world]
         [--run-id ID] [--write-prefix P] [--expected-oci IMAGE@sha256:…] [--timeout S] [--wait] [--json]
  Submits a run to the control plane (--control-plane URL or THEORY_CONTROL_PLANE, token THEORY_TOKEN),
  follows its events (tokens and progress on stderr when it is a terminal) and prints the run's
  canonical envelope. --mode defaults to mock, --scope to local. --wait: hold the request until the
  run settles (up to 60 s) instead of following the stream. Exit status 0 on success, else the
  error code's status (see the README).
`;

/** `Prefer: wait=N` for --wait: the API's maximum. */
const WAIT_SECONDS = 60;

const OPTIONS = {
  ref: { type: "string" },
  target: { type: "string" },
  agent: { type: "string" },
  mode: { type: "string" },
  scope: { type: "string" },
  "run-id": { type: "string" },
  "write-prefix": { type: "string" },
  "expected-oci": { type: "string" },
  timeout: { type: "string" },
  wait: { type: "boolean" },
  ...INPUT_OPTIONS,
} as const;

async function buildRequest(args: string[], context: CliContext) {
  const { values } = parseFlags(args, OPTIONS);
  const timeout = values.timeout;
  if (timeout !== undefined && !/^[0-9]+$/.test(timeout))
    throw new TheoryError("ERR_INPUTS", "--timeout must be a whole number of seconds");
  const candidate = {
    ref: values.ref,
    ...(values["run-id"] !== undefined ? { run_id: values["run-id"] } : {}),
    mode: values.mode ?? "mock",
    inputs: await readInputs(values, context.stdin),
    target: values.target,
    ...(values.agent !== undefined ? { agent: values.agent } : {}),
    artifact_scope: values.scope ?? "local",
    ...(values["write-prefix"] !== undefined ? { write_prefix: values["write-prefix"] } : {}),
    ...(values["expected-oci"] !== undefined ? { expected_oci: values["expected-oci"] } : {}),
    ...(timeout !== undefined ? { timeout_s: Number(timeout) } : {}),
  };
  const parsed = RunRequestSchema.safeParse(candidate);
  if (!parsed.success) throw new TheoryError("ERR_INPUTS", `run request: ${describeIssues(parsed.error)}`);
  return { request: parsed.data, wait: values.wait === true };
}

/** Tokens as they arrive and one line per milestone, on stderr, only when it is a terminal. */
class Progress {
  private midLine = false;
  private tokens = 0;
  private readonly started = Date.now();

  private readonly enabled: boolean;

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  line(text: string): void {
    if (!this.enabled) return;
    process.stderr.write(`${this.midLine ? "\n" : ""}theory run: ${text}\n`);
    this.midLine = false;
  }

  token(text: string): void {
    this.tokens++;
    if (!this.enabled || text === "") return;
    process.stderr.write(text);
    this.midLine = !text.endsWith("\n");
  }

  settled(state: string): void {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    this.line(`${state} after ${seconds} s, ${this.tokens} tokens`);
  }
}

/** Follows the run's events to `done`, showing tokens and milestones. */
async function follow(client: ControlPlaneClient, runId: string, progress: Progress): Promise<void> {
  for await (const event of client.events(runId)) {
    if (event.event === DONE_EVENT) return;
    let frame: unknown;
    try {
      frame = JSON.parse(event.data);
    } catch {
      continue;
    }
    const parsed = ProcessorFrameSchema.safeParse(frame);
    if (!parsed.success) continue;
    switch (parsed.data.kind) {
      case "Ack":
        progress.line(`running (acknowledged by the processor)`);
        break;
      case "Token":
        progress.token(parsed.data.content.text);
        break;
      case "Event":
        progress.line(`event ${parsed.data.content.name}`);
        break;
      case "Log":
      case "RunResult":
        break;
    }
  }
}

async function submit(
  client: ControlPlaneClient,
  request: RunRequest,
  wait: boolean,
  progress: Progress,
  log: Logger,
): Promise<string> {
  const resource = await client.createRun(request, wait ? WAIT_SECONDS : undefined);
  progress.line(`run ${resource.run_id} ${resource.state}`);
  // Settled already (--wait, or the same request again): nothing to follow.
  if (isTerminal(resource.state)) return resource.run_id;
  try {
    await follow(client, resource.run_id, progress);
  } catch (error) {
    // Stopping the client does not stop the run (that is `theory runs cancel`).
    log.warn("run.detached", {
      execution_id: resource.run_id,
      hint: `the run goes on: theory runs get|events|cancel ${resource.run_id}`,
    });
    throw error;
  }
  return resource.run_id;
}

export const command: Command = {
  summary: "submit a run to the control plane, follow it, print its envelope",
  async run(args: string[], context: CliContext): Promise<CommandResult> {
    if (args.includes("--help") || args.includes("-h")) return { raw: USAGE };
    const { request, wait } = await buildRequest(args, context);
    const client = controlPlaneClientFor(context);
    const progress = new Progress(context.stderrIsTTY);
    const runId = await submit(client, request, wait, progress, context.log);
    const { text, envelope } = await client.getEnvelope(runId);
    progress.settled(envelope.status === "success" ? "succeeded" : `failed: ${envelope.error.code}`);
    // Exactly the persisted bytes, then a newline (like every command's stdout).
    return envelope.status === "error"
      ? { raw: `${text}\n`, code: envelope.error.code }
      : { raw: `${text}\n` };
  },
};
