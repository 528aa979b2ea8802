import { DurableObject } from "cloudflare:workers";
import { isSendableCloseCode } from "../src/contract/agent-frames.ts";
import {
  isTerminal,
  type Receipt,
  type RunRequest,
  type RunResource,
  type RunState,
  type RunSummary,
} from "../src/contract/api.ts";
import { type Envelope, EnvelopeSchema, type ErrorBody } from "../src/contract/envelope.ts";
import type { ProcessorFrame } from "../src/contract/frames.ts";
import { OUTPUT_INDEX, type Platform } from "../src/contract/primitives.ts";
import { DONE_EVENT } from "../src/contract/run-events.ts";
import { canonicalJson, sha256Hex } from "../src/core/canonical.ts";
import { buildErrorEnvelope } from "../src/core/envelope.ts";
import { TheoryError, toErrorBody } from "../src/core/errors.ts";
import { ENVELOPE_OBJECT, RECEIPT_OBJECT, worldObjectKey } from "../src/core/paths.ts";
import { toolDefinition } from "../src/core/tool-inputs.ts";
import { envFingerprint, lookupTool } from "../src/core/tool-registry.ts";
import { checkOutboundUrl } from "../src/core/url-policy.ts";
import { endpointTransport } from "../src/engine/endpoint-transport.ts";
import { executeRun, lostMidRun, type RunRecord } from "../src/engine/orchestrator.ts";
import { planRun, type RunPlan } from "../src/engine/run-plan.ts";
import type { RunTransport } from "../src/engine/transport.ts";
import { resolveEndpoint } from "../src/worker/endpoint-lookup.ts";
import { agentTunnel } from "../src/worker/objects.ts";
import { type Runtime, runtimeFor } from "../src/worker/runtime.ts";
import { agentTransport } from "../src/worker/transports/agent-transport.ts";
import { workerdConnect } from "../src/worker/transports/workerd-socket.ts";
import { EventLog } from "./event-log.ts";
import { resumeAfter } from "./event-stream.ts";
import { type RunRow, RunStore } from "./run-store.ts";
import { Subscribers } from "./subscribers.ts";
import { WebhookDeliveries } from "./webhook-deliveries.ts";

/** Past the run's own budget, how long the alarm waits before looking again at a session told to stop. */
const SETTLE_MARGIN_MS = 10_000;
/**
 * While a run is live, how often its alarm looks whether this instance still holds its session: one
 * that wakes with a live run and no execution lost it (docs/operations.md#lost-sessions).
 */
const SESSION_CHECK_MS = 5000;
/** A run is dispatched at most this often: a second time only when its session was lost before Ack. */
const MAX_DISPATCHES = 2;
/** When the object-store copy of a settled run is checked (and retried) by the alarm. */
const PERSIST_RETRY_MS = 2000;
/** How often the alarm retries a run-index write that failed (the index can wait; storage first). */
const INDEX_RETRY_MS = 30_000;
/**
 * How long a new run waits before the index hears of it: one that settles sooner is indexed once,
 * settled (a D1 write saved on most runs); a longer one is listed while it runs.
 */
const INDEX_CREATED_DELAY_MS = 1000;
/** `persisted` bits: which copies of the settled run exist beyond this object. */
const STORE_COPY = 1;
const INDEXED = 2;
const encoder = new TextEncoder();

export type StartResult =
  | { ok: true; resource: RunResource; created: boolean }
  | { ok: false; error: ErrorBody };

function stateOf(envelope: Envelope): RunState {
  if (envelope.status === "success") return "succeeded";
  return envelope.error.code === "ERR_CANCELED" ? "canceled" : "failed";
}

/** How a run ended, as the receipt tells it. */
interface Settlement {
  envelope: Envelope;
  text: string;
  sha256: string;
  attempts: Receipt["attempts"];
  startedAt?: string;
  ackedAt?: string;
  settledAt: string;
  frames: Receipt["frames"];
}

/**
 * One per run (named by run_id): the orchestrator's home. It owns the run's row (RunStore), its
 * numbered events (EventLog), its live subscribers (Subscribers) and its outbound webhook
 * (WebhookDeliveries), and keeps what a run costs on the platform small: the run is recorded in one
 * commit, its frames in batches, its result in one commit that makes it durable before anyone is
 * told; the object-store copy and the run index (GET /v1/runs) follow off the critical path
 * (docs/operations.md#a-runs-storage).
 */
export class RunSession extends DurableObject<Env> {
  private readonly store: RunStore;
  private readonly events: EventLog;
  private readonly subscribers: Subscribers;
  private readonly deliveries: WebhookDeliveries;
  private execution?: AbortController;
  private creating?: Promise<unknown>;
  private readonly waiters = new Set<() => void>();
  /** The alarm as last set by this instance (undefined: not known, so the next change sets it). */
  private alarmAt: number | null | undefined;
  /**
   * The run's creation is not in the index yet: its delayed write is due, or failed and the alarm
   * retries it while the run is live. In memory only: an object that lost it also lost the run,
   * whose settling indexes it anyway.
   */
  private indexPending = false;
  private labels?: { runId: string; value: Pick<RunRequest, "tags" | "metadata"> };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new RunStore(ctx.storage.sql);
    this.events = new EventLog(this.store);
    this.subscribers = new Subscribers(ctx);
    this.deliveries = new WebhookDeliveries(ctx.storage.sql);
  }

  private get runtime(): Runtime {
    return runtimeFor(this.env);
  }

  /**
   * Idempotent start: the same request again is the same run; another request under this id is
   * ERR_CONFLICT. With `waitMs`, answers once the run settled or the wait ended (`Prefer: wait`),
   * in this one call; with `existingOnly`, a run that no longer exists is ERR_NOT_FOUND, never
   * started afresh. Errors come back as values: a thrown error loses its type crossing RPC.
   */
  async start(
    request: RunRequest & { run_id: string },
    options: { waitMs?: number; replayOf?: string; existingOnly?: boolean } = {},
  ): Promise<StartResult> {
    const requestText = canonicalJson(request);
    const requestSha256 = await sha256Hex(requestText);
    // Duplicates arriving together are one run: each waits for the start in flight, then looks.
    while (this.creating) await this.creating;
    let started: StartResult;
    const existing = this.store.get();
    if (existing) {
      started =
        existing.request_sha256 === requestSha256
          ? { ok: true, resource: this.resourceOf(existing), created: false }
          : {
              ok: false,
              error: {
                code: "ERR_CONFLICT",
                message: `run_id ${request.run_id} was already used for a different request`,
              },
            };
    } else if (options.existingOnly) {
      started = {
        ok: false,
        error: { code: "ERR_NOT_FOUND", message: `run ${request.run_id} no longer exists` },
      };
    } else {
      const creating = this.create(request, requestText, requestSha256, options.replayOf);
      this.creating = creating.catch(() => undefined);
      try {
        started = await creating;
      } finally {
        this.creating = undefined;
      }
    }
    if (!started.ok || options.waitMs === undefined) return started;
    return { ...started, resource: await this.waitSettled(options.waitMs) };
  }

  private async create(
    request: RunRequest & { run_id: string },
    requestText: string,
    requestSha256: string,
    replayOf: string | undefined,
  ): Promise<StartResult> {
    let plan: RunPlan;
    try {
      plan = await this.planFor(request);
    } catch (error) {
      return { ok: false, error: toErrorBody(error) };
    }
    // One commit: the row, the webhook, the alarm and the start event are written in this turn.
    const now = Date.now();
    this.store.create({
      run_id: request.run_id,
      request: requestText,
      request_sha256: requestSha256,
      ref: request.ref,
      target: request.target,
      agent: request.agent ?? null,
      state: "queued",
      queued_at: new Date(now).toISOString(),
      deadline_ms: now + plan.timeoutMs,
      envelope: null,
      receipt: null,
      persisted: 0,
      expires_at_ms: null,
      replay_of: replayOf ?? null,
      replays: "[]",
    });
    if (request.webhook) this.deliveries.configure(request.webhook.url, request.webhook.events);
    this.launch(plan, request);
    const row = this.store.get() as RunRow;
    this.alarmAt = null; // a new run has no alarm yet
    // The deadline or the first session check, not nextWake: its start webhook is being tried now.
    this.wakeBy(Math.min(row.deadline_ms, now + SESSION_CHECK_MS));
    this.indexPending = true; // written by the timer, or by the alarm if the timer is lost
    setTimeout(() => void this.indexCreated(), INDEX_CREATED_DELAY_MS);
    return { ok: true, resource: this.resourceOf(row), created: true };
  }

  /** The run's plan (throws ERR_INPUTS and the like): what a first dispatch and a second one start from. */
  private async planFor(request: RunRequest & { run_id: string }): Promise<RunPlan> {
    const { config, toolRegistry, store } = this.runtime;
    if (request.webhook) {
      if (!config.webhookSigningSecret)
        throw new TheoryError(
          "ERR_INPUTS",
          "outbound webhooks are not configured here (WEBHOOK_SIGNING_SECRET)",
        );
      checkOutboundUrl(request.webhook.url, {
        allowLoopback: config.allowLoopbackEndpoints,
        allowQuery: true,
        what: "webhook.url",
      });
    }
    return planRun(request, {
      toolRegistry,
      worldId: config.worldId,
      platform: await this.platformFor(request),
      presignPut: (key, seconds) => store.presignPut(key, seconds),
    });
  }

  /**
   * The platform whose pin is expected: Modal runs amd64; a local run, its agent's (from its Hello).
   * An agent that never said Hello cannot take the run anyway (ERR_ENDPOINT_MISSING), so amd64 there.
   */
  private async platformFor(request: RunRequest): Promise<Platform> {
    if (request.target !== "local" || !request.agent) return "amd64";
    return (await agentTunnel(this.env, request.agent).status(request.agent)).platform ?? "amd64";
  }

  async resource(): Promise<RunResource | null> {
    const row = this.store.get();
    return row ? this.resourceOf(row) : null;
  }

  /** What a replay starts from: the run's exact request, its state and, once settled, its envelope. */
  async replaySource(): Promise<{ request: RunRequest; resource: RunResource } | null> {
    const row = this.store.get();
    return row ? { request: JSON.parse(row.request) as RunRequest, resource: this.resourceOf(row) } : null;
  }

  /** Links a replay back to this run (its resource lists it). */
  async linkReplay(runId: string): Promise<void> {
    const row = this.store.get();
    if (!row) return;
    const replays = JSON.parse(row.replays) as string[];
    if (!replays.includes(runId)) this.store.update({ replays: JSON.stringify([...replays, runId]) });
  }

  /** The run's envelope or receipt as stored (the bytes GET serves), once it settled; else null. */
  async settled(name: "envelope" | "receipt"): Promise<string | null> {
    const row = this.store.get();
    if (!row || !isTerminal(row.state)) return null;
    return name === "envelope" ? row.envelope : row.receipt;
  }

  /** The run resource once it settles, or as it stands after `waitMs`. */
  private async waitSettled(waitMs: number): Promise<RunResource> {
    const row = this.store.get() as RunRow;
    if (!isTerminal(row.state)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        const waiters = this.waiters;
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
    return this.resourceOf(this.store.get() as RunRow);
  }

  async cancel(): Promise<RunResource | null> {
    const row = this.store.get();
    if (!row) return null;
    if (!isTerminal(row.state)) {
      const canceled = new TheoryError("ERR_CANCELED", "the run was canceled");
      if (this.execution) this.execution.abort(canceled);
      else await this.settleWithout(row, canceled.toBody());
    }
    return this.resourceOf(this.store.get() as RunRow);
  }

  /**
   * One alarm for every timed job: webhook retries that are due, a live run's session (lost: settle
   * or dispatch again) and deadline (abort the session), the object-store copy of a settled run,
   * and its retention.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null; // it fired: none is set now
    try {
      const row = this.store.get();
      if (!row) return;
      const now = Date.now();
      await Promise.all(this.deliveries.due(now).map((event) => this.deliver(event)));
      if (!isTerminal(row.state)) {
        if (this.indexPending) await this.indexCreated();
        if (!this.execution) await this.onSessionLost(row);
        else if (now >= row.deadline_ms) this.onDeadline();
      } else if (!(row.persisted & STORE_COPY)) {
        await this.persist();
      } else if (row.expires_at_ms !== null && now >= row.expires_at_ms) {
        return await this.expire(row);
      } else if (!(row.persisted & INDEXED)) {
        await this.persist();
      }
      const current = this.store.get();
      if (current) this.wakeBy(this.nextWake(current));
    } catch (error) {
      this.runtime.log.error("error.run.alarm", { error: error as Error });
      throw error;
    }
  }

  private onDeadline(): void {
    this.execution?.abort(new TheoryError("ERR_WS_TIMEOUT", "the run exceeded its time budget"));
    this.store.update({ deadline_ms: Date.now() + SETTLE_MARGIN_MS });
  }

  /**
   * A live run in storage and no execution in this instance: its session was lost with the instance
   * that held it (a restart, a deploy). Acknowledged, the processor may have done work, so the run is
   * settled and never run again; never acknowledged, it is dispatched once more while time remains.
   */
  private async onSessionLost(row: RunRow): Promise<void> {
    const acknowledged = this.events.acknowledged();
    this.runtime.log.warn("ws.run.lost", { execution_id: row.run_id, ref: row.ref, acknowledged });
    if (acknowledged) return this.settleWithout(row, lostMidRun("the control plane restarted"));
    if (Date.now() >= row.deadline_ms)
      return this.settleWithout(row, { code: "ERR_WS_TIMEOUT", message: "the run exceeded its time budget" });
    if (row.dispatches >= MAX_DISPATCHES) {
      return this.settleWithout(row, {
        code: "ERR_ENDPOINT_MISSING",
        message: `the run's session was lost ${row.dispatches} times before the processor acknowledged it`,
      });
    }
    const request = JSON.parse(row.request) as RunRequest & { run_id: string };
    let plan: RunPlan;
    try {
      plan = await this.planFor(request);
    } catch (error) {
      return this.settleWithout(row, toErrorBody(error));
    }
    const current = this.store.get();
    if (!current || isTerminal(current.state) || this.execution) return; // settled or started meanwhile
    this.store.update({ dispatches: current.dispatches + 1 });
    this.runtime.log.info("ws.run.redispatch", {
      execution_id: row.run_id,
      dispatch: current.dispatches + 1,
    });
    this.launch(plan, request, { again: true });
  }

  /**
   * When the alarm must next look at the run: while it runs, its deadline or the next session check,
   * whichever is sooner; once settled, the object-store copy (checked when the alarm already set
   * fires, so settling writes no alarm), then retention; and any webhook retry that is due sooner.
   */
  private nextWake(row: RunRow): number {
    const now = Date.now();
    const expires = row.expires_at_ms ?? now;
    let at: number;
    if (!isTerminal(row.state)) at = Math.min(row.deadline_ms, now + SESSION_CHECK_MS);
    else if (!(row.persisted & STORE_COPY)) at = Math.max(row.deadline_ms, now + PERSIST_RETRY_MS);
    else if (!(row.persisted & INDEXED)) at = Math.min(expires, now + INDEX_RETRY_MS);
    else at = expires;
    const webhook = this.deliveries.nextDue();
    return webhook === undefined ? at : Math.min(at, webhook);
  }

  /**
   * Makes sure the alarm fires by `at`. An alarm already due sooner serves (it looks again when it
   * fires), so most changes of state write no alarm at all.
   */
  private wakeBy(at: number): void {
    if (this.alarmAt !== undefined && this.alarmAt !== null && this.alarmAt <= at) return;
    this.moveAlarm(at);
  }

  /** Sets the alarm to `at`, later or sooner than it was (wakeBy only ever brings it sooner). */
  private moveAlarm(at: number): void {
    if (this.alarmAt === at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  /** Queues an outbound webhook event (if asked for) and tries it at once, without anyone waiting. */
  private notify(event: "start" | "completed"): void {
    const row = this.store.get() as RunRow;
    if (this.deliveries.enqueue(row.run_id, event, () => canonicalJson(this.resourceOf(row)))) {
      void this.deliver(event).then(() => {
        const next = this.deliveries.nextDue();
        if (next !== undefined) this.wakeBy(next);
      });
    }
  }

  private async deliver(event: "start" | "completed"): Promise<void> {
    const { config, log } = this.runtime;
    if (!config.webhookSigningSecret) return;
    await this.deliveries.attempt(event, config.webhookSigningSecret);
    const row = this.store.get();
    if (!row) return;
    log.info("webhook.attempt", { execution_id: row.run_id, event });
    // After settling, the receipt is rewritten so it shows every attempt.
    if (isTerminal(row.state) && row.receipt) {
      const receipt = canonicalJson({
        ...(JSON.parse(row.receipt) as Receipt),
        webhooks: this.deliveries.summary(),
      });
      this.store.update({ receipt });
      if (row.persisted & STORE_COPY) {
        const key = worldObjectKey(config.worldId, row.run_id, RECEIPT_OBJECT);
        await this.runtime.store
          .put(key, encoder.encode(receipt), "application/json")
          .catch((error: unknown) => log.warn("error.receipt.persist", { error: error as Error }));
      }
    }
  }

  /** The run's events (SSE, or a WebSocket on upgrade): replay after the resume point, then live. */
  override async fetch(request: Request): Promise<Response> {
    try {
      const row = this.store.get();
      if (!row) {
        return Response.json(
          { status: "error", error: { code: "ERR_NOT_FOUND", message: "no such run" } },
          { status: 404 },
        );
      }
      const replay = this.events.after(resumeAfter(request));
      const done = isTerminal(row.state) ? { kind: DONE_EVENT, data: row.envelope as string } : undefined;
      return request.headers.get("Upgrade")?.toLowerCase() === "websocket"
        ? this.subscribers.websocket(replay, done)
        : this.subscribers.sse(replay, done);
    } catch (error) {
      this.runtime.log.error("error.run.events", { error: error as Error });
      return Response.json(
        { status: "error", error: { code: "ERR_INTERNAL", message: "internal error" } },
        { status: 500 },
      );
    }
  }

  override async webSocketMessage(): Promise<void> {
    // Subscribers only listen; anything they send is ignored.
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(isSendableCloseCode(code) ? code : 1000, reason);
    } catch {
      // Already closed.
    }
  }

  /** The run's state as its readers see it: "running" while this instance holds its session. */
  private stateNow(row: RunRow): RunState {
    return !isTerminal(row.state) && this.execution ? "running" : row.state;
  }

  /** What names the run in its resource, its listing row and its receipt, in `state`. */
  private identityOf(
    row: RunRow,
    state: RunState,
  ): Pick<RunResource, "run_id" | "ref" | "target" | "agent" | "state"> {
    return {
      run_id: row.run_id,
      ref: row.ref,
      target: row.target,
      ...(row.agent ? { agent: row.agent } : {}),
      state,
    };
  }

  private resourceOf(row: RunRow): RunResource {
    return {
      ...this.identityOf(row, this.stateNow(row)),
      envelope: isTerminal(row.state) && row.envelope ? EnvelopeSchema.parse(JSON.parse(row.envelope)) : null,
      ...this.labelsOf(row),
      ...(row.replay_of ? { replay_of: row.replay_of } : {}),
      ...(row.replays !== "[]" ? { replays: JSON.parse(row.replays) as string[] } : {}),
    };
  }

  /**
   * The request's tags and metadata, as given (the resource, webhooks and the index carry them).
   * Read from the stored request once: it never changes, and its inputs may be large.
   */
  private labelsOf(row: RunRow): Pick<RunRequest, "tags" | "metadata"> {
    if (this.labels?.runId !== row.run_id) {
      const { tags, metadata } = JSON.parse(row.request) as RunRequest;
      this.labels = {
        runId: row.run_id,
        value: { ...(tags ? { tags } : {}), ...(metadata ? { metadata } : {}) },
      };
    }
    return this.labels.value;
  }

  /** The run as GET /v1/runs lists it (no envelope: nothing here parses it). */
  private summaryOf(row: RunRow): RunSummary {
    const settledAt = row.receipt ? (JSON.parse(row.receipt) as Receipt).timings.settled_at : undefined;
    return {
      ...this.identityOf(row, this.stateNow(row)),
      ...this.labelsOf(row),
      created_at: row.queued_at,
      ...(settledAt ? { settled_at: settledAt } : {}),
    };
  }

  /** The new run into the index, without anyone waiting; a failure is retried by the alarm. */
  private async indexCreated(): Promise<void> {
    const row = this.store.get();
    if (!row || isTerminal(row.state) || !this.indexPending) return;
    try {
      await this.runtime.runIndex.record(this.summaryOf(row), "created");
      this.indexPending = false;
    } catch (error) {
      this.runtime.log.warn("error.run.index", { execution_id: row.run_id, error: error as Error });
      this.indexPending = true;
      this.wakeBy(Date.now() + INDEX_RETRY_MS);
    }
  }

  private transportFor(request: RunRequest): RunTransport {
    const { config, log } = this.runtime;
    if (request.target === "local") {
      const agentId = request.agent as string; // the request schema requires it for target local
      return agentTransport({
        tunnel: agentTunnel(this.env, agentId),
        agentId,
        log: log.child({ target: "local", ref: request.ref, execution_id: request.run_id }),
      });
    }
    return endpointTransport({
      resolve: (ref) => resolveEndpoint(this.env, config, ref),
      connect: workerdConnect,
      fetch: (input, init) => fetch(input, init),
      health: config.health,
      log: log.child({ target: "modal", ref: request.ref, execution_id: request.run_id }),
    });
  }

  /** Starts the run's execution; `again` when a lost session's run is dispatched once more. */
  private launch(
    plan: RunPlan,
    request: RunRequest & { run_id: string },
    options: { again?: boolean } = {},
  ): void {
    const controller = new AbortController();
    this.execution = controller;
    const { log, store } = this.runtime;
    if (!options.again) this.notify("start");
    log.info("ws.run.start", { execution_id: plan.runId, ref: plan.ref, target: request.target });
    // No waitUntil: a Durable Object stays alive while its socket to the processor is open.
    executeRun(plan, this.transportFor(request), controller.signal, {
      ackBudgetMs: this.runtime.config.health.totalMs,
      // Written in the Ack's own turn, so with its leading write: one commit.
      onAck: (imageDigest) => {
        if (imageDigest) this.store.update({ image_digest: imageDigest });
      },
      onFrame: (frame, text) => this.onFrame(frame, text),
      storedEtag: async (key) => (await store.head(key))?.etag ?? null,
      log,
    }).then(
      (record) => this.settleRecord(record),
      (error: unknown) => log.error("error.run.settle", { execution_id: plan.runId, error: error as Error }),
    );
  }

  private onFrame(frame: ProcessorFrame, text: string): void {
    if (frame.kind === "RunResult") return; // the terminal `done` carries the checked envelope instead
    const seq = this.events.append(frame.kind, text);
    this.subscribers.broadcast({ seq, kind: frame.kind, data: text });
  }

  private settleRecord(record: RunRecord): void {
    const row = this.store.get();
    this.settle({
      envelope: record.envelope,
      text: record.text,
      sha256: record.sha256,
      attempts: [...(row ? this.lostAttempts(row, row.dispatches - 1) : []), ...record.attempts],
      startedAt: record.startedAt,
      ackedAt: record.ackedAt,
      settledAt: record.settledAt,
      frames: record.frames,
    });
  }

  /**
   * The receipt's record of the run's first `count` dispatches, whose sessions were lost with the
   * instance that held them (only the last one can have been acknowledged).
   */
  private lostAttempts(row: RunRow, count: number): Receipt["attempts"] {
    return Array.from({ length: count }, (_, i) => ({
      started_at: row.queued_at,
      outcome: "ERR_ENDPOINT_MISSING",
      acked: i === row.dispatches - 1 && this.events.acknowledged(),
    }));
  }

  /** Settles a run whose session was lost: its envelope keeps the digest stored with its Ack. */
  private async settleWithout(row: RunRow, error: ErrorBody): Promise<void> {
    const tool = lookupTool(this.runtime.toolRegistry, row.ref);
    const envelope = buildErrorEnvelope({
      runId: row.run_id,
      error,
      envFingerprint: envFingerprint(tool.resources),
      imageDigest: row.image_digest ?? undefined,
    });
    const text = canonicalJson(envelope);
    const sha256 = await sha256Hex(text);
    this.settle({
      envelope,
      text,
      sha256,
      attempts: this.lostAttempts(row, row.dispatches).map((attempt) => ({
        ...attempt,
        outcome: error.code,
      })),
      settledAt: new Date().toISOString(),
      frames: { total: 0, tokens: 0, bytes_in: 0 },
    });
  }

  /**
   * The result, the last events and the receipt are written in one turn (one commit) and only then
   * announced: the envelope is durable before any waiter or subscriber hears of it, and never
   * changes afterwards. The object-store copy is made next, off the critical path, retried by the alarm.
   */
  private settle(outcome: Settlement): void {
    this.execution = undefined;
    const row = this.store.get();
    if (!row || isTerminal(row.state)) return;
    const { config, log } = this.runtime;
    const state = stateOf(outcome.envelope);
    this.events.flush();
    this.store.update({
      state,
      envelope: outcome.text,
      receipt: canonicalJson(this.receiptOf(row, state, outcome)),
      expires_at_ms: Date.now() + config.retentionMs,
    });
    this.wakeBy(this.nextWake(this.store.get() as RunRow));
    log.info("ws.run.settle", { execution_id: row.run_id, ref: row.ref, state });
    this.subscribers.finish({ kind: DONE_EVENT, data: outcome.text });
    for (const wake of [...this.waiters]) wake();
    this.notify("completed");
    void this.persist();
  }

  private receiptOf(row: RunRow, state: RunState, outcome: Settlement): Receipt {
    const webhooks = this.deliveries.summary();
    return {
      ...this.identityOf(row, state),
      attempts: outcome.attempts,
      timings: {
        queued_at: row.queued_at,
        ...(outcome.startedAt ? { started_at: outcome.startedAt } : {}),
        ...(outcome.ackedAt ? { acked_at: outcome.ackedAt } : {}),
        settled_at: outcome.settledAt,
        duration_ms: Math.max(0, Date.parse(outcome.settledAt) - Date.parse(row.queued_at)),
      },
      frames: outcome.frames,
      events: this.events.stats(),
      envelope: { bytes: encoder.encode(outcome.text).byteLength, sha256: outcome.sha256 },
      ...(webhooks ? { webhooks } : {}),
    };
  }

  /**
   * The settled envelope and receipt into the object store, and the settled run into the index, at
   * once; whichever failed is retried by the alarm. One write records what was done.
   */
  private async persist(): Promise<void> {
    const row = this.store.get();
    if (!row?.envelope || !row.receipt || row.persisted === (STORE_COPY | INDEXED)) return;
    const done = await Promise.all([
      row.persisted & STORE_COPY ? STORE_COPY : this.copyToStore(row),
      row.persisted & INDEXED ? INDEXED : this.indexSettled(row),
    ]);
    const current = this.store.get();
    if (!current) return; // expired meanwhile
    // With what a concurrent call (settling's and the alarm's) may have recorded meanwhile.
    const persisted = done[0] | done[1] | current.persisted;
    if (persisted === current.persisted) return;
    this.store.update({ persisted });
    // Copied and indexed: the alarm set for a live run's session check would fire for nothing, so
    // it moves (in this same commit) to what is due next: a webhook retry, or retention.
    if (persisted === (STORE_COPY | INDEXED)) this.moveAlarm(this.nextWake(this.store.get() as RunRow));
  }

  /** The settled run's index row (its state and settled_at); INDEXED once written, else 0. */
  private async indexSettled(row: RunRow): Promise<number> {
    this.indexPending = false; // the settled row supersedes the creation write
    try {
      await this.runtime.runIndex.record(this.summaryOf(row), "settled");
      return INDEXED;
    } catch (error) {
      this.runtime.log.warn("error.run.index", { execution_id: row.run_id, error: error as Error });
      this.wakeBy(Date.now() + INDEX_RETRY_MS);
      return 0;
    }
  }

  /** The envelope and receipt into the object store; STORE_COPY once there, else 0 (the alarm retries). */
  private async copyToStore(row: RunRow): Promise<number> {
    const { config, store, log } = this.runtime;
    if (!row.envelope || !row.receipt) return 0;
    const key = (name: string) => worldObjectKey(config.worldId, row.run_id, name);
    try {
      await Promise.all([
        store.put(key(ENVELOPE_OBJECT), encoder.encode(row.envelope), "application/json"),
        store.put(key(RECEIPT_OBJECT), encoder.encode(row.receipt), "application/json"),
      ]);
      // A webhook attempt may have rewritten the receipt meanwhile: the store gets the latest.
      const latest = this.store.get()?.receipt;
      if (latest && latest !== row.receipt)
        await store.put(key(RECEIPT_OBJECT), encoder.encode(latest), "application/json");
    } catch (error) {
      log.error("error.run.persist", { execution_id: row.run_id, error: error as Error });
      this.wakeBy(Date.now() + PERSIST_RETRY_MS);
      return 0;
    }
    return STORE_COPY;
  }

  /** Retention: the run's objects (envelope, receipt, world outputs) and index row, then all the object holds. */
  private async expire(row: RunRow): Promise<void> {
    const { config, store, log } = this.runtime;
    const names = [ENVELOPE_OBJECT, RECEIPT_OBJECT, OUTPUT_INDEX, ...toolDefinition(row.ref).outputs];
    try {
      await Promise.all([
        store.delete(names.map((name) => worldObjectKey(config.worldId, row.run_id, name))),
        this.runtime.runIndex.forget(row.run_id),
      ]);
    } catch (error) {
      log.error("error.run.expire", { execution_id: row.run_id, error: error as Error });
      this.store.update({ expires_at_ms: Date.now() + PERSIST_RETRY_MS });
      this.wakeBy(Date.now() + PERSIST_RETRY_MS);
      return;
    }
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.store.forget();
    this.events.reset();
    this.deliveries.forget();
    this.alarmAt = null;
    log.info("run.expired", { execution_id: row.run_id });
  }
}
