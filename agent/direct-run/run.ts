import type { RunRequest } from "../../src/contract/api.ts";
import type { Envelope } from "../../src/contract/envelope.ts";
import type { ProcessorFrame } from "../../src/contract/frames.ts";
import { HEALTH_BACKOFF } from "../../src/core/backoff.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import { endpointTransport, type ResolvedEndpoint } from "../../src/engine/endpoint-transport.ts";
import { executeRun } from "../../src/engine/orchestrator.ts";
import type { RunPlan } from "../../src/engine/run-plan.ts";
import { nodeConnect } from "./node-socket.ts";

/** The world id direct runs are planned under: they are local scope, which never names it in an envelope. */
export const DIRECT_WORLD = "local";

/**
 * What `localctl run` and `modalctl run` take from their flags: a run request with its run_id
 * decided, whose target and artifact scope the command fixes (and no agent or webhook).
 */
export type DirectRunRequest = Pick<
  RunRequest,
  "ref" | "mode" | "inputs" | "write_prefix" | "expected_oci" | "timeout_s"
> & { run_id: string };

export interface DirectRunResult {
  envelope: Envelope;
  /** The canonical bytes, exactly what the control plane would persist for the same run. */
  text: string;
}

export interface DirectRunDeps {
  /**
   * The endpoint (http://127.0.0.1:PORT, a Modal tunnel's or web endpoint's https URL) with the
   * processor's token and any proxy-auth headers; null = none.
   */
  resolve(ref: string): Promise<ResolvedEndpoint | null>;
  log: Logger;
  signal: AbortSignal;
  onFrame?(frame: ProcessorFrame, text: string): void;
}

/**
 * The CLI's direct run (`localctl run`, `modalctl run`): the same orchestrator core the RunSession
 * uses — one theory.run.v1 session through the endpoint transport (health with bounded backoff,
 * retry only before Ack), invariants, canonical envelope — under the plan's time budget. Never
 * throws for a run failure: that is an error envelope.
 */
export async function runAtEndpoint(plan: RunPlan, deps: DirectRunDeps): Promise<DirectRunResult> {
  const transport = endpointTransport({
    resolve: deps.resolve,
    connect: nodeConnect,
    fetch: (input, init) => fetch(input, init),
    health: HEALTH_BACKOFF,
    log: deps.log,
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
    deps.log.info("ws.run.start");
    const run = await executeRun(plan, transport, AbortSignal.any([deps.signal, budget.signal]), {
      ackBudgetMs: HEALTH_BACKOFF.totalMs,
      onFrame: deps.onFrame,
      log: deps.log,
    });
    deps.log.info("ws.run.settle", {
      status: run.envelope.status,
      elapsed_ms: Date.parse(run.settledAt) - Date.parse(run.startedAt),
    });
    return { envelope: run.envelope, text: run.text };
  } finally {
    clearTimeout(timer);
  }
}
