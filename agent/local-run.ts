import { endpointTransport } from "../src/adapters/endpoint-transport.ts";
import { nodeConnect } from "../src/adapters/node-socket.ts";
import type { Envelope } from "../src/contract/envelope.ts";
import type { ProcessorFrame } from "../src/contract/frames.ts";
import type { Mode } from "../src/contract/primitives.ts";
import type { Registry } from "../src/contract/registry.ts";
import { HEALTH_BACKOFF } from "../src/core/backoff.ts";
import { canonicalJson } from "../src/core/canonical.ts";
import { buildErrorEnvelope } from "../src/core/envelope.ts";
import { TheoryError } from "../src/core/errors.ts";
import { executeRun } from "../src/core/orchestrator.ts";
import { envFingerprint, lookupTool } from "../src/core/registry.ts";
import { planRun } from "../src/core/run-plan.ts";
import { LocalContainers } from "./docker/containers.ts";
import { connectDocker, dockerStatus } from "./docker/engine.ts";
import { localUrl } from "./local-health.ts";
import type { LocalDeps } from "./local-start.ts";
import { type ContainerRecord, readContainers } from "./state.ts";

/** The world id local-scope runs are planned under (local scope never names it in an envelope). */
const LOCAL_WORLD = "local";

export interface LocalRunRequest {
  ref: string;
  run_id: string;
  mode: Mode;
  inputs: Record<string, unknown>;
  write_prefix?: string;
  expected_oci?: string;
  timeout_s?: number;
}

export interface LocalRunResult {
  envelope: Envelope;
  /** The canonical bytes, exactly what the control plane would persist for the same run. */
  text: string;
}

/** Why the recorded container cannot take a run, or undefined when it can (or Docker cannot tell). */
async function notRunning(record: ContainerRecord, deps: LocalDeps): Promise<string | undefined> {
  try {
    const state = await new LocalContainers(connectDocker(deps.config.dockerSocket), deps.log).find(
      record.container_id,
    );
    return state?.running ? undefined : `container ${record.name} is ${state ? state.status : "gone"}`;
  } catch (error) {
    // No engine to ask (or it failed): the health check over HTTP decides instead.
    deps.log.debug("adapter.container.inspect", { ref: record.ref, status: dockerStatus(error) });
    return undefined;
  }
}

/**
 * `localctl run`: the same orchestrator core the RunSession uses (plan, one theory.run.v1 session
 * with health and bounded retry before Ack, invariants, canonical envelope), against the container
 * `localctl start` recorded, in local artifact scope. Never starts anything: a ref that is not
 * started settles ERR_HEALTH. Never throws for a run failure: that is an error envelope.
 */
export async function runLocal(
  registry: Registry,
  request: LocalRunRequest,
  deps: LocalDeps & { onFrame?(frame: ProcessorFrame, text: string): void },
): Promise<LocalRunResult> {
  const tool = lookupTool(registry, request.ref);
  const record = (await readContainers(deps.config.home))[request.ref];
  const problem = record ? await notRunning(record, deps) : undefined;
  if (!record || problem) {
    const hint = `theory localctl start --ref ${request.ref} --platform ${record?.platform ?? "P"}`;
    const envelope = buildErrorEnvelope({
      runId: request.run_id,
      error: { code: "ERR_HEALTH", message: `not started${problem ? ` (${problem})` : ""}: ${hint}` },
      envFingerprint: envFingerprint(tool.resources),
    });
    return { envelope, text: canonicalJson(envelope) };
  }
  const plan = await planRun(
    { ...request, target: "local", artifact_scope: "local" },
    { registry, worldId: LOCAL_WORLD, platform: record.platform },
  );
  const log = deps.log.child({ target: "local", ref: request.ref, execution_id: request.run_id });
  const transport = endpointTransport({
    resolve: async () => ({ url: localUrl(record.port) }),
    connect: nodeConnect,
    fetch: (input, init) => fetch(input, init),
    health: HEALTH_BACKOFF,
    log,
  });
  const budget = new AbortController();
  const timer = setTimeout(
    () =>
      budget.abort(
        new TheoryError("ERR_WS_TIMEOUT", `the run exceeded its ${plan.timeoutMs / 1000} s budget`),
      ),
    plan.timeoutMs,
  );
  try {
    log.info("ws.run.start", { port: record.port });
    const run = await executeRun(plan, transport, AbortSignal.any([deps.signal, budget.signal]), {
      onFrame: deps.onFrame,
      log,
    });
    log.info("ws.run.settle", {
      status: run.envelope.status,
      elapsed_ms: Date.parse(run.settledAt) - Date.parse(run.startedAt),
    });
    return { envelope: run.envelope, text: run.text };
  } finally {
    clearTimeout(timer);
  }
}
