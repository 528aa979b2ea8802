import type { Envelope, ErrorBody } from "../contract/envelope.ts";
import {
  isLostConnectionCode,
  MAX_FRAME_BYTES,
  type ProcessorFrame,
  ProcessorFrameSchema,
} from "../contract/frames.ts";
import { type BackoffPolicy, backoffDelay } from "../core/backoff.ts";
import { canonicalJson, sha256Hex } from "../core/canonical.ts";
import { buildErrorEnvelope, checkEnvelope, processorViolation } from "../core/envelope.ts";
import { TheoryError, toErrorBody } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { describeIssues } from "../core/validation.ts";
import type { RunPlan } from "./run-plan.ts";
import type { RunTransport, TransportSession } from "./transport.ts";

/** Retries happen only here, only before the processor acknowledged the run (docs/operations.md#retries-health-and-budgets). */
export const RUN_RETRY: BackoffPolicy & { attempts: number } = {
  attempts: 2,
  initialMs: 250,
  maxMs: 1000,
  factor: 2,
  jitter: 0.2,
  totalMs: 1000,
};
/** After Cancel, how long the processor has to answer with its own RunResult. */
export const CANCEL_GRACE_MS = 5000;

/**
 * Only a failed connection is worth another attempt. Health already spent its own bounded backoff,
 * and the other codes are answers that another attempt would repeat.
 */
const RETRIED = new Set(["ERR_ENDPOINT_MISSING"]);

/**
 * What the control plane concludes by itself about a run the processor acknowledged but never
 * settled: out of time, canceled past the grace period, its connection lost. Those envelopes keep
 * the digest the transport expected the processor to run, when it knows one.
 */
const OWN_VERDICTS = new Set(["ERR_WS_TIMEOUT", "ERR_CANCELED", "ERR_ENDPOINT_MISSING"]);

/** A session lost after Ack, on any transport (docs/protocols.md#lost-connections). */
export function lostMidRun(detail: string): ErrorBody {
  return { code: "ERR_ENDPOINT_MISSING", message: `the processor's connection was lost mid-run (${detail})` };
}

export interface Attempt {
  started_at: string;
  outcome: string;
  acked: boolean;
}

export interface RunHooks {
  /**
   * The processor acknowledged the run, with the digest the transport expects it to run (when
   * known); called in the same turn as the Ack's onFrame.
   */
  onAck?(imageDigest: string | undefined): void;
  /** Every processor frame, in order, as parsed and as received. */
  onFrame?(frame: ProcessorFrame, text: string): void;
  /** World scope: the stored ETag of an object, or null when absent (proof verification). */
  storedEtag?(key: string): Promise<string | null>;
  log?: Logger;
  /**
   * The pre-Ack budget: how long reaching a processor that acknowledges the run may take in all,
   * every attempt, handshake, health poll and retry delay included
   * (docs/operations.md#retries-health-and-budgets). Unbounded when absent.
   */
  ackBudgetMs?: number;
  clock?: () => number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RunRecord {
  envelope: Envelope;
  /** The canonical bytes (as text) to persist and serve. */
  text: string;
  sha256: string;
  attempts: Attempt[];
  startedAt: string;
  ackedAt?: string;
  settledAt: string;
  frames: { total: number; tokens: number; bytes_in: number };
}

class AttemptFailure extends Error {
  readonly body: ErrorBody;
  readonly acked: boolean;
  readonly reportedDigest?: string;
  constructor(body: ErrorBody, acked: boolean, reportedDigest?: string) {
    super(body.message);
    this.body = body;
    this.acked = acked;
    this.reportedDigest = reportedDigest;
  }
}

/**
 * The orchestrator's run: open one session through the transport, send RunOpen, hold the processor
 * to the frame protocol and the envelope invariants, verify the proof, canonicalize. Never throws:
 * every failure settles as an error envelope. `signal` aborts with a TheoryError reason
 * (ERR_CANCELED or ERR_WS_TIMEOUT).
 */
export async function executeRun(
  plan: RunPlan,
  transport: RunTransport,
  signal: AbortSignal,
  hooks: RunHooks = {},
): Promise<RunRecord> {
  const clock = hooks.clock ?? Date.now;
  const iso = () => new Date(clock()).toISOString();
  const sleep = hooks.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const frames = { total: 0, tokens: 0, bytes_in: 0 };
  const attempts: Attempt[] = [];
  const startedAt = iso();
  let ackedAt: string | undefined;
  let envelope: Envelope;
  const preAck = preAckBudget(hooks.ackBudgetMs, clock);

  for (let attempt = 0; ; attempt++) {
    const record: Attempt = { started_at: iso(), outcome: "running", acked: false };
    attempts.push(record);
    try {
      const raw = await runOnce(plan, transport, signal, preAck.signal, {
        onAck: (imageDigest) => {
          record.acked = true;
          ackedAt = iso();
          preAck.end();
          hooks.onAck?.(imageDigest);
        },
        onFrame: (frame, text) => {
          frames.total++;
          frames.bytes_in += text.length;
          if (frame.kind === "Token") frames.tokens++;
          hooks.onFrame?.(frame, text);
        },
      });
      envelope = await settleResult(plan, raw, hooks);
      record.outcome = envelope.status === "success" ? "success" : envelope.error.code;
      break;
    } catch (error) {
      const failure =
        error instanceof AttemptFailure ? error : new AttemptFailure(toErrorBody(error), record.acked);
      record.outcome = failure.body.code;
      hooks.log?.warn("error.run.attempt", {
        execution_id: plan.runId,
        ref: plan.ref,
        code: failure.body.code,
        attempt,
      });
      const delay = backoffDelay(RUN_RETRY, attempt, hooks.random ?? Math.random);
      const retry =
        !failure.acked &&
        RETRIED.has(failure.body.code) &&
        !signal.aborted &&
        attempt + 1 < RUN_RETRY.attempts &&
        preAck.allows(delay);
      if (retry) {
        await sleep(delay);
        if (!signal.aborted && !preAck.signal.aborted) continue;
      }
      const body = signal.aborted && !failure.acked ? toErrorBody(signal.reason) : failure.body;
      envelope = buildErrorEnvelope({
        runId: plan.runId,
        error: body,
        envFingerprint: plan.envFingerprint,
        imageDigest: failure.reportedDigest,
      });
      break;
    }
  }
  preAck.end();
  const text = canonicalJson(envelope);
  return {
    envelope,
    text,
    sha256: await sha256Hex(text),
    attempts,
    startedAt,
    ackedAt,
    settledAt: iso(),
    frames,
  };
}

/**
 * The pre-Ack budget as a signal that aborts when it is spent (ERR_ENDPOINT_MISSING), `allows`
 * saying whether a retry delay still fits, and `end` once the processor acknowledged.
 */
function preAckBudget(budgetMs: number | undefined, clock: () => number) {
  const controller = new AbortController();
  if (budgetMs === undefined) return { signal: controller.signal, allows: () => true, end: () => {} };
  const deadline = clock() + budgetMs;
  const timer = setTimeout(
    () =>
      controller.abort(
        new TheoryError(
          "ERR_ENDPOINT_MISSING",
          `no processor acknowledged the run within ${budgetMs / 1000} s (the health budget)`,
        ),
      ),
    budgetMs,
  );
  return {
    signal: controller.signal,
    allows: (delayMs: number) => clock() + delayMs < deadline,
    end: () => clearTimeout(timer),
  };
}

/** Schema, prefix, order, digest drift, fingerprint, then (world scope) the stored proof. */
async function settleResult(plan: RunPlan, raw: unknown, hooks: RunHooks): Promise<Envelope> {
  const checked = checkEnvelope(raw, {
    runId: plan.runId,
    runPrefix: plan.runPrefix,
    expectedDigest: plan.expectedDigest,
  });
  const reported = (raw as { meta?: { image_digest?: unknown } }).meta?.image_digest;
  const digest =
    typeof reported === "string" && /^sha256:[a-f0-9]{64}$/.test(reported) ? reported : undefined;
  if (!checked.ok) throw new AttemptFailure(checked.error, true, digest);
  const envelope = checked.envelope;
  if (envelope.meta.env_fingerprint !== plan.envFingerprint) {
    throw new AttemptFailure(
      processorViolation(
        "protocol",
        `env_fingerprint ${envelope.meta.env_fingerprint} is not ${plan.envFingerprint}`,
      ),
      true,
      digest,
    );
  }
  if (envelope.status === "success" && plan.objectKeys) {
    if (!hooks.storedEtag)
      throw new TheoryError("ERR_INTERNAL", "world scope without storage to verify the proof");
    for (const [path, etag] of Object.entries(envelope.meta.proof.etag_map)) {
      const key = plan.objectKeys[path];
      const stored = key === undefined ? null : await hooks.storedEtag(key);
      if (stored !== etag) {
        throw new AttemptFailure(
          {
            code: "ERR_INTERNAL",
            message: `proof failed: stored ETag of ${path} does not match the envelope`,
          },
          true,
          digest,
        );
      }
    }
  }
  return envelope;
}

/**
 * One session: RunOpen, Ack, progress, exactly one RunResult, close. Resolves with the raw envelope.
 * `preAck` ends the attempt when it aborts before the processor acknowledged.
 */
function runOnce(
  plan: RunPlan,
  transport: RunTransport,
  signal: AbortSignal,
  preAck: AbortSignal,
  observer: {
    onAck(imageDigest: string | undefined): void;
    onFrame(frame: ProcessorFrame, text: string): void;
  },
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let phase: "opening" | "open" | "acked" | "result" | "done" = "opening";
    let session: TransportSession | undefined;
    let result: unknown;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;

    const finish = (outcome: { ok: true } | { ok: false; body: ErrorBody }) => {
      if (phase === "done") return;
      const acked = phase === "acked" || phase === "result";
      phase = "done";
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      signal.removeEventListener("abort", onAbort);
      preAck.removeEventListener("abort", onPreAckSpent);
      if (outcome.ok) resolve(result);
      else {
        const digest = acked && OWN_VERDICTS.has(outcome.body.code) ? session?.imageDigest : undefined;
        reject(new AttemptFailure(outcome.body, acked, digest));
      }
    };
    const fail = (body: ErrorBody, closeReason: string) => {
      session?.close(closeReason.startsWith("ERR_") ? 1011 : 1002, closeReason.slice(0, 123));
      finish({ ok: false, body });
    };

    function onAbort() {
      const reason = toErrorBody(signal.reason);
      if (reason.code === "ERR_CANCELED" && phase === "acked" && session) {
        session.send(canonicalJson({ kind: "Cancel", content: {} }));
        graceTimer = setTimeout(() => fail(reason, reason.code), CANCEL_GRACE_MS);
        return;
      }
      if (phase === "acked") session?.send(canonicalJson({ kind: "Cancel", content: {} }));
      fail(reason, reason.code);
    }
    // Opening, the transport gives up by itself (it holds the same signal); once open, this does.
    function onPreAckSpent() {
      if (phase === "open") fail(toErrorBody(preAck.reason), "ERR_ENDPOINT_MISSING");
    }
    if (signal.aborted) return reject(new AttemptFailure(toErrorBody(signal.reason), false));
    if (preAck.aborted) return reject(new AttemptFailure(toErrorBody(preAck.reason), false));
    signal.addEventListener("abort", onAbort, { once: true });
    preAck.addEventListener("abort", onPreAckSpent, { once: true });

    const onMessage = (text: string) => {
      if (phase === "done") return;
      if (text.length > MAX_FRAME_BYTES)
        return fail(processorViolation("protocol", "a frame over 1 MiB"), "frame too large");
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return fail(processorViolation("protocol", "a frame that is not JSON"), "malformed frame");
      }
      const parsed = ProcessorFrameSchema.safeParse(json);
      if (!parsed.success) {
        return fail(
          processorViolation("protocol", `an unknown or malformed frame (${describeIssues(parsed.error)})`),
          "unknown frame",
        );
      }
      const frame = parsed.data;
      switch (frame.kind) {
        case "Ack":
          if (phase !== "open")
            return fail(processorViolation("protocol", "Ack out of order"), "unexpected Ack");
          if (frame.content.run_id !== plan.runId)
            return fail(processorViolation("protocol", "Ack for another run"), "wrong run");
          phase = "acked";
          observer.onAck(session?.imageDigest);
          break;
        case "Token":
        case "Event":
        case "Log":
          if (phase !== "acked")
            return fail(
              processorViolation("protocol", `${frame.kind} before Ack or after RunResult`),
              "unexpected frame",
            );
          break;
        case "RunResult":
          if (phase !== "acked")
            return fail(
              processorViolation("protocol", "RunResult before Ack or twice"),
              "unexpected RunResult",
            );
          phase = "result";
          result = frame.content;
          break;
        default: {
          const unreachable: never = frame;
          return fail(
            processorViolation("protocol", `unhandled frame ${String(unreachable)}`),
            "unknown frame",
          );
        }
      }
      observer.onFrame(frame, text);
      // The result is in: settle now rather than trusting the processor to close promptly.
      if (phase === "result") {
        session?.close(1000, "");
        finish({ ok: true });
      }
    };

    transport
      .open(
        { ref: plan.ref, runId: plan.runId },
        {
          onMessage,
          onClose: (code) => {
            if (phase === "result") return finish({ ok: true });
            // After Ack: a processor that closed without a result broke the protocol; one whose
            // connection was lost (no close frame) may have been killed, so nothing is known of it.
            let body: ErrorBody;
            if (phase !== "acked")
              body = {
                code: "ERR_ENDPOINT_MISSING",
                message: `processor closed the connection before acknowledging (${code})`,
              };
            else if (isLostConnectionCode(code)) body = lostMidRun(String(code));
            else body = processorViolation("protocol", `connection closed mid-run (${code})`);
            finish({ ok: false, body });
          },
          onError: (error) => finish({ ok: false, body: error.toBody() }),
        },
        { signal: AbortSignal.any([signal, preAck]) },
      )
      .then(
        (opened) => {
          session = opened;
          if (phase === "done") return opened.close(1000, "");
          phase = "open";
          // A transport that opened past the budget anyway: the attempt ends here.
          if (preAck.aborted) return onPreAckSpent();
          opened.send(canonicalJson({ kind: "RunOpen", content: { role: "client", payload: plan.payload } }));
        },
        (error: unknown) => finish({ ok: false, body: toErrorBody(error) }),
      );
  });
}
