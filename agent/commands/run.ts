import type { ControlPlaneClient } from "../../src/client/control-plane.ts";
import { isTerminal, type RunRequest, RunRequestSchema } from "../../src/contract/api.ts";
import { ProcessorFrameSchema } from "../../src/contract/frames.ts";
import { DONE_EVENT } from "../../src/contract/run-events.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import { describeIssues } from "../../src/core/validation.ts";
import { type CommandInput, defineCommand, type OptionSpecs, type ParsedValues } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { INPUT_FLAGS, INPUT_OPTIONS, readInputs } from "../cli/inputs.ts";
import { controlPlaneClientFor } from "../control-plane/client.ts";

/** `Prefer: wait=N` for --wait: the API's maximum. */
const WAIT_SECONDS = 60;

const OPTIONS = {
  ref: {
    type: "string",
    placeholder: "R",
    description: "the tool's ref, e.g. llm/litellm@1",
    required: true,
  },
  target: {
    type: "string",
    placeholder: "local|modal",
    description: "where it runs: an agent's machine (local) or the ref's registered endpoint (modal)",
    required: true,
  },
  agent: { type: "string", placeholder: "ID", description: "the agent that runs it (target local)" },
  mode: { type: "string", placeholder: "mock|real", description: "mock or real work (default mock)" },
  ...INPUT_OPTIONS,
  scope: {
    type: "string",
    placeholder: "local|world",
    description: "artifact scope: local:// paths, or world:// in the control plane's storage (default local)",
  },
  "run-id": { type: "string", placeholder: "ID", description: "the run's id (default: the control plane's)" },
  "write-prefix": {
    type: "string",
    placeholder: "P",
    description: "where the outputs go, under /artifacts/",
  },
  "expected-oci": {
    type: "string",
    placeholder: "IMAGE@sha256:…",
    description: "fail with ERR_REGISTRY_MISMATCH unless the processor runs this digest",
  },
  timeout: { type: "string", placeholder: "S", description: "the run's budget in whole seconds (1-3600)" },
  wait: {
    type: "boolean",
    description: `hold the request until the run settles (up to ${WAIT_SECONDS} s) instead of following the stream`,
  },
} as const satisfies OptionSpecs;

async function buildRequest(values: ParsedValues<typeof OPTIONS>, context: CliContext) {
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

async function run({ values }: CommandInput<typeof OPTIONS>, context: CliContext): Promise<CommandResult> {
  const { request, wait } = await buildRequest(values, context);
  const client = controlPlaneClientFor(context);
  const progress = new Progress(context.stderrIsTTY);
  const runId = await submit(client, request, wait, progress, context.log);
  const { text, envelope } = await client.getEnvelope(runId);
  progress.settled(envelope.status === "success" ? "succeeded" : `failed: ${envelope.error.code}`);
  // Exactly the persisted bytes, then a newline (like every command's stdout).
  return envelope.status === "error" ? { raw: `${text}\n`, code: envelope.error.code } : { raw: `${text}\n` };
}

export const command = defineCommand({
  name: "run",
  summary: "submit a run to the control plane, follow it, print its envelope",
  notes:
    "Submits a run to the control plane (--control-plane URL or THEORY_CONTROL_PLANE, token THEORY_TOKEN), " +
    "follows its events (tokens and progress on stderr when it is a terminal) and prints the run's canonical " +
    "envelope. Exit status 0 on success, else the error code's status (see the README).",
  options: OPTIONS,
  oneOf: INPUT_FLAGS,
  run,
});
