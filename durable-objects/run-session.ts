import { DurableObject } from "cloudflare:workers";
import type { SSEStreamingApi } from "hono/streaming";
import {
  isTerminal,
  type Receipt,
  type RunRequest,
  type RunResource,
  type RunState,
} from "../src/contract/api.ts";
import { type Envelope, EnvelopeSchema, type ErrorBody } from "../src/contract/envelope.ts";
import type { ProcessorFrame } from "../src/contract/frames.ts";
import type { Platform } from "../src/contract/primitives.ts";
import { canonicalJson, sha256Hex } from "../src/core/canonical.ts";
import { buildErrorEnvelope } from "../src/core/envelope.ts";
import { TheoryError, toErrorBody } from "../src/core/errors.ts";
import { ENVELOPE_OBJECT, RECEIPT_OBJECT, worldObjectKey } from "../src/core/paths.ts";
import { openSseStream, SSE_HEADERS } from "../src/core/sse-writer.ts";
import { envFingerprint, lookupTool } from "../src/core/tool-registry.ts";
import { checkOutboundUrl } from "../src/core/url-policy.ts";
import { endpointTransport } from "../src/engine/endpoint-transport.ts";
import { executeRun, type RunRecord } from "../src/engine/orchestrator.ts";
import { planRun, type RunPlan } from "../src/engine/run-plan.ts";
import type { RunTransport } from "../src/engine/transport.ts";
import { agentTunnel, endpointDirectory } from "../src/worker/objects.ts";
import { type Runtime, runtimeFor } from "../src/worker/runtime.ts";
import { agentTransport } from "../src/worker/transports/agent-transport.ts";
import { workerdConnect } from "../src/worker/transports/workerd-socket.ts";
import { DONE, type RunEvent, resumeAfter, sseEvents, wsEvent } from "./event-stream.ts";
import { type RunRow, RunTable } from "./run-table.ts";
import { WebhookDeliveries } from "./webhook-deliveries.ts";

/** Past the run's own budget, how long the alarm waits before declaring the session lost. */
const SETTLE_MARGIN_MS = 10_000;
/** A persist that failed is tried again this much later (by the alarm). */
const PERSIST_RETRY_MS = 2000;
const encoder = new TextEncoder();

export type StartResult =
  | { ok: true; resource: RunResource; created: boolean }
  | { ok: false; error: ErrorBody };

function stateOf(envelope: Envelope): RunState {
  if (envelope.status === "success") return "succeeded";
  return envelope.error.code === "ERR_CANCELED" ? "canceled" : "failed";
}

/**
 * One per run (addressed by run_id): the orchestrator's home. Holds the state machine, the events,
 * the processor session, the timeout alarm, and persists the envelope and receipt before the run is
 * reported settled.
 */
export class RunSession extends DurableObject<Env> {
  private readonly table: RunTable;
  private readonly deliveries: WebhookDeliveries;
  private execution?: { controller: AbortController; done: Promise<void> };
  private readonly sseSubscribers = new Set<SSEStreamingApi>();
  private readonly settledWaiters = new Set<() => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.table = new RunTable(ctx.storage.sql);
    this.deliveries = new WebhookDeliveries(ctx.storage.sql);
  }

  private get runtime(): Runtime {
    return runtimeFor(this.env);
  }

  /**
   * Idempotent start: the same request again is the same run; another request under this id is
   * ERR_CONFLICT. Errors come back as values: a thrown error loses its type crossing RPC.
   */
  async start(request: RunRequest & { run_id: string }): Promise<StartResult> {
    const requestSha256 = await sha256Hex(canonicalJson(request));
    const existing = this.table.get();
    if (existing) {
      if (existing.request_sha256 !== requestSha256) {
        return {
          ok: false,
          error: {
            code: "ERR_CONFLICT",
            message: `run_id ${request.run_id} was already used for a different request`,
          },
        };
      }
      return { ok: true, resource: this.resourceOf(existing), created: false };
    }
    const { config, toolRegistry, store } = this.runtime;
    let plan: RunPlan;
    try {
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
      plan = await planRun(request, {
        toolRegistry,
        worldId: config.worldId,
        platform: await this.platformFor(request),
        presignPut: (key, seconds) => store.presignPut(key, seconds),
      });
    } catch (error) {
      return { ok: false, error: toErrorBody(error) };
    }
    const now = Date.now();
    this.table.create(request, requestSha256, new Date(now).toISOString(), now + plan.timeoutMs);
    if (request.webhook) this.deliveries.configure(request.webhook.url, request.webhook.events);
    await this.scheduleAlarm();
    this.launch(plan, request);
    return { ok: true, resource: this.resourceOf(this.table.get() as RunRow), created: true };
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
    const row = this.table.get();
    return row ? this.resourceOf(row) : null;
  }

  /** The run resource once it settles, or as it stands after `timeoutMs` (for `Prefer: wait`). */
  async waitSettled(timeoutMs: number): Promise<RunResource | null> {
    const row = this.table.get();
    if (!row || isTerminal(row.state)) return row ? this.resourceOf(row) : null;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.settledWaiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
    return this.resourceOf(this.table.get() as RunRow);
  }

  async cancel(): Promise<RunResource | null> {
    const row = this.table.get();
    if (!row) return null;
    if (this.execution)
      this.execution.controller.abort(new TheoryError("ERR_CANCELED", "the run was canceled"));
    else if (!isTerminal(row.state)) {
      await this.settleWithout(row, { code: "ERR_CANCELED", message: "the run was canceled" });
    }
    return this.resourceOf(this.table.get() as RunRow);
  }

  /**
   * One alarm for two jobs: webhook retries that are due, and the run's deadline (the timeout
   * backstop: abort a live session, settle a lost one, or retry a persist that failed).
   */
  override async alarm(): Promise<void> {
    await Promise.all(this.deliveries.due(Date.now()).map((event) => this.deliver(event)));
    const row = this.table.get();
    if (row && !isTerminal(row.state) && Date.now() >= row.deadline_ms) await this.onDeadline(row);
    await this.scheduleAlarm();
  }

  private async onDeadline(row: RunRow): Promise<void> {
    if (row.envelope) return this.persist(row.envelope, row.receipt as string); // a persist that failed before
    const budget = new TheoryError("ERR_WS_TIMEOUT", "the run exceeded its time budget");
    if (this.execution) {
      this.execution.controller.abort(budget);
      this.table.setDeadline(Date.now() + SETTLE_MARGIN_MS);
      return;
    }
    await this.settleWithout(row, budget.toBody());
  }

  /** The earliest of the run's deadline (while unsettled) and the next webhook retry. */
  private async scheduleAlarm(): Promise<void> {
    const row = this.table.get();
    const times = [
      row && !isTerminal(row.state) ? row.deadline_ms : undefined,
      this.deliveries.nextDue(),
    ].filter((t): t is number => t !== undefined);
    if (times.length > 0) await this.ctx.storage.setAlarm(Math.min(...times));
    else await this.ctx.storage.deleteAlarm();
  }

  /** Queues an outbound webhook event (if asked for) and tries it at once, without anyone waiting. */
  private notify(event: "start" | "completed"): void {
    const row = this.table.get() as RunRow;
    if (this.deliveries.enqueue(row.run_id, event, canonicalJson(this.resourceOf(row)))) {
      void this.deliver(event).then(() => this.scheduleAlarm());
    }
  }

  private async deliver(event: "start" | "completed"): Promise<void> {
    const { config, log } = this.runtime;
    if (!config.webhookSigningSecret) return;
    await this.deliveries.attempt(event, config.webhookSigningSecret);
    const row = this.table.get() as RunRow;
    log.info("webhook.attempt", { execution_id: row.run_id, event });
    // After settling, the stored receipt is rewritten so it shows every attempt.
    if (isTerminal(row.state) && row.envelope && row.receipt) {
      const receipt = canonicalJson({
        ...(JSON.parse(row.receipt) as Receipt),
        webhooks: this.deliveries.summary(),
      });
      this.table.setResult(row.envelope, receipt);
      const key = worldObjectKey(config.worldId, row.run_id, RECEIPT_OBJECT);
      await this.runtime.store
        .put(key, encoder.encode(receipt), "application/json")
        .catch((error: unknown) => log.warn("error.receipt.persist", { error: error as Error }));
    }
  }

  override async fetch(request: Request): Promise<Response> {
    if (!this.table.get()) {
      return Response.json(
        { status: "error", error: { code: "ERR_NOT_FOUND", message: "no such run" } },
        { status: 404 },
      );
    }
    const after = resumeAfter(request);
    if (request.headers.get("Upgrade")?.toLowerCase() === "websocket") return this.acceptSubscriber(after);
    return this.streamSse(after);
  }

  override async webSocketMessage(): Promise<void> {
    // Subscribers only listen; anything they send is ignored.
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }

  private resourceOf(row: RunRow): RunResource {
    const settled = isTerminal(row.state);
    return {
      run_id: row.run_id,
      ref: row.ref,
      target: row.target,
      state: row.state,
      envelope: settled && row.envelope ? EnvelopeSchema.parse(JSON.parse(row.envelope)) : null,
    };
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
    const directory = endpointDirectory(this.env);
    return endpointTransport({
      resolve: (ref) => directory.get(ref),
      connect: workerdConnect,
      fetch: (input, init) => fetch(input, init),
      health: config.health,
      headers: config.modalProxy
        ? { "Modal-Key": config.modalProxy.key, "Modal-Secret": config.modalProxy.secret }
        : {},
      log: log.child({ target: "modal", ref: request.ref, execution_id: request.run_id }),
    });
  }

  private launch(plan: RunPlan, request: RunRequest & { run_id: string }): void {
    const controller = new AbortController();
    const { log, store } = this.runtime;
    const run = async () => {
      this.table.setState("running");
      this.notify("start");
      log.info("ws.run.start", { execution_id: plan.runId, ref: plan.ref, target: request.target });
      const record = await executeRun(plan, this.transportFor(request), controller.signal, {
        onFrame: (frame, text) => this.onFrame(frame, text),
        storedEtag: async (key) => (await store.head(key))?.etag ?? null,
        log,
      });
      this.execution = undefined;
      await this.settle(record);
    };
    const done = run().catch((error: unknown) =>
      log.error("error.run.settle", { execution_id: plan.runId, error: error as Error }),
    );
    // No waitUntil: a Durable Object stays alive while its socket to the processor is open.
    this.execution = { controller, done };
  }

  private onFrame(frame: ProcessorFrame, text: string): void {
    if (frame.kind === "RunResult") return; // the terminal `done` carries the checked envelope instead
    const seq = this.table.appendEvent(frame.kind, text);
    this.broadcast({ seq, kind: frame.kind, data: text });
  }

  private async settle(record: RunRecord): Promise<void> {
    await this.record(record.envelope, record.text, record.sha256, {
      attempts: record.attempts,
      started_at: record.startedAt,
      acked_at: record.ackedAt,
      settled_at: record.settledAt,
      frames: record.frames,
    });
  }

  /** Settles a run that has no live session (lost, or canceled before it started). */
  private async settleWithout(row: RunRow, error: ErrorBody): Promise<void> {
    const tool = lookupTool(this.runtime.toolRegistry, row.ref);
    const envelope = buildErrorEnvelope({
      runId: row.run_id,
      error,
      envFingerprint: envFingerprint(tool.resources),
    });
    const text = canonicalJson(envelope);
    await this.record(envelope, text, await sha256Hex(text), {
      attempts: [],
      settled_at: new Date().toISOString(),
      frames: { total: 0, tokens: 0, bytes_in: 0 },
    });
  }

  /** Keeps the result and its receipt in SQLite (so a restart can finish), then persists both. */
  private async record(
    envelope: Envelope,
    text: string,
    sha256: string,
    run: {
      attempts: Receipt["attempts"];
      started_at?: string;
      acked_at?: string;
      settled_at: string;
      frames: Receipt["frames"];
    },
  ): Promise<void> {
    const row = this.table.get() as RunRow;
    const webhooks = this.deliveries.summary();
    const receipt: Receipt = {
      run_id: row.run_id,
      ref: row.ref,
      target: row.target,
      ...(row.agent ? { agent: row.agent } : {}),
      state: stateOf(envelope),
      attempts: run.attempts,
      timings: {
        queued_at: row.queued_at,
        ...(run.started_at ? { started_at: run.started_at } : {}),
        ...(run.acked_at ? { acked_at: run.acked_at } : {}),
        settled_at: run.settled_at,
        duration_ms: Math.max(0, Date.parse(run.settled_at) - Date.parse(row.queued_at)),
      },
      frames: run.frames,
      envelope: { bytes: encoder.encode(text).byteLength, sha256 },
      ...(webhooks ? { webhooks } : {}),
    };
    this.table.setResult(text, canonicalJson(receipt));
    await this.persist(text, canonicalJson(receipt));
  }

  /** Envelope and receipt reach storage before the state turns terminal; a failed write is retried by the alarm. */
  private async persist(envelopeText: string, receiptText: string): Promise<void> {
    const { config, store, log } = this.runtime;
    const row = this.table.get() as RunRow;
    try {
      const key = (name: string) => worldObjectKey(config.worldId, row.run_id, name);
      await Promise.all([
        store.put(key(ENVELOPE_OBJECT), encoder.encode(envelopeText), "application/json"),
        store.put(key(RECEIPT_OBJECT), encoder.encode(receiptText), "application/json"),
      ]);
    } catch (error) {
      log.error("error.run.persist", { execution_id: row.run_id, error: error as Error });
      this.table.setDeadline(Date.now() + PERSIST_RETRY_MS);
      await this.scheduleAlarm();
      return;
    }
    const envelope = EnvelopeSchema.parse(JSON.parse(envelopeText));
    this.table.setState(stateOf(envelope));
    this.notify("completed");
    await this.scheduleAlarm();
    log.info("ws.run.settle", { execution_id: row.run_id, ref: row.ref, state: stateOf(envelope) });
    this.broadcast({ kind: DONE, data: envelopeText }, true);
    for (const wake of [...this.settledWaiters]) wake();
  }

  private broadcast(event: RunEvent, last = false): void {
    const sse = sseEvents([event]);
    for (const stream of this.sseSubscribers) {
      void stream.write(sse);
      if (last) void stream.close();
    }
    if (last) this.sseSubscribers.clear();
    const text = wsEvent(event);
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
        if (last) ws.close(1000, "done");
      } catch {
        // A subscriber that went away.
      }
    }
  }

  private streamSse(after: number): Response {
    const stream = openSseStream();
    void stream.write(sseEvents(this.table.eventsAfter(after)));
    const current = this.table.get() as RunRow;
    if (isTerminal(current.state)) {
      void stream.write(sseEvents([{ kind: DONE, data: current.envelope as string }]));
      void stream.close();
    } else {
      this.sseSubscribers.add(stream);
      stream.onAbort(() => {
        this.sseSubscribers.delete(stream);
      });
    }
    return new Response(stream.responseReadable, { headers: SSE_HEADERS });
  }

  private acceptSubscriber(after: number): Response {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    for (const e of this.table.eventsAfter(after))
      server.send(wsEvent({ seq: e.seq, kind: e.kind, data: e.data }));
    const current = this.table.get() as RunRow;
    if (isTerminal(current.state)) {
      server.send(wsEvent({ kind: DONE, data: current.envelope as string }));
      server.close(1000, "done");
    }
    return new Response(null, { status: 101, webSocket: client });
  }
}
