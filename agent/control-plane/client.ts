import { setTimeout as sleep } from "node:timers/promises";
import { type RunRequest, type RunResource, RunResourceSchema } from "../../src/contract/api.ts";
import { ApiErrorSchema, type Envelope, EnvelopeSchema } from "../../src/contract/envelope.ts";
import { type BackoffPolicy, backoffSchedule } from "../../src/core/backoff.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import { readSse, type SseEvent } from "../../src/core/sse-reader.ts";

/** The terminal event of a run's stream; its data is the envelope. */
export const DONE_EVENT = "done";

/** Reconnects after the event stream drops before `done`: about 200 ms -> 2 s, 15 s in all, per drop. */
export const STREAM_RECONNECT: BackoffPolicy = {
  initialMs: 200,
  maxMs: 2000,
  factor: 2,
  jitter: 0.2,
  totalMs: 15_000,
};

export interface ControlPlaneClientOptions {
  /** The control plane's base URL (config.controlPlane). */
  baseUrl: string;
  /** The bearer token (config.token); never logged. */
  token: string;
  log: Logger;
  signal?: AbortSignal;
  reconnect?: BackoffPolicy;
}

/** One settled envelope: the persisted canonical bytes and what they say. */
export interface PersistedEnvelope {
  text: string;
  envelope: Envelope;
}

/**
 * The control plane's `/v1/runs` API as the CLI uses it: bearer auth, error bodies mapped back to
 * their ERR_* code, and the SSE event stream resumed with Last-Event-ID when it drops.
 */
export class ControlPlaneClient {
  private readonly baseUrl: string;
  private readonly options: ControlPlaneClientOptions;

  constructor(options: ControlPlaneClientOptions) {
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
  }

  /** POST /v1/runs; with `waitSeconds`, `Prefer: wait=N` (the answer may still be unsettled). */
  async createRun(request: RunRequest, waitSeconds?: number): Promise<RunResource> {
    const response = await this.request("/v1/runs", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        ...(waitSeconds ? { Prefer: `wait=${waitSeconds}` } : {}),
      },
      body: JSON.stringify(request),
    });
    return this.resource(response);
  }

  async getRun(runId: string): Promise<RunResource> {
    return this.resource(await this.request(`/v1/runs/${encodeURIComponent(runId)}`));
  }

  async cancelRun(runId: string): Promise<RunResource> {
    return this.resource(
      await this.request(`/v1/runs/${encodeURIComponent(runId)}/cancel`, { method: "POST" }),
    );
  }

  /** GET /v1/runs/{id}/envelope: exactly the persisted bytes. */
  async getEnvelope(runId: string): Promise<PersistedEnvelope> {
    const response = await this.request(`/v1/runs/${encodeURIComponent(runId)}/envelope`);
    const text = await response.text();
    const envelope = parseJson(text, EnvelopeSchema);
    if (!envelope)
      throw new TheoryError("ERR_INTERNAL", `the control plane's envelope for ${runId} is invalid`);
    return { text, envelope };
  }

  /**
   * The run's events after `after` (seq), ending with `done`. A stream that drops (or a 5xx, or
   * an unreachable control plane) before `done` is reopened with Last-Event-ID = the last seq seen,
   * after a bounded backoff; the schedule restarts whenever an event arrives.
   */
  async *events(runId: string, options: { after?: number } = {}): AsyncGenerator<SseEvent> {
    const log = this.options.log.child({ execution_id: runId });
    let lastId = options.after && options.after > 0 ? String(options.after) : undefined;
    let delays = this.schedule();
    for (let attempt = 0; ; attempt++) {
      let reason: unknown;
      log.debug("events.open", { attempt, last_event_id: lastId });
      try {
        const response = await this.request(`/v1/runs/${encodeURIComponent(runId)}/events`, {
          headers: { Accept: "text/event-stream", ...(lastId ? { "Last-Event-ID": lastId } : {}) },
        });
        if (!response.body) throw new TheoryError("ERR_INTERNAL", "the event stream has no body");
        for await (const event of readSse(response.body)) {
          if (event.id !== undefined) lastId = event.id;
          if (attempt > 0) {
            delays = this.schedule();
            attempt = 0;
          }
          yield event;
          if (event.event === DONE_EVENT) return;
        }
        reason = "ended before done";
      } catch (error) {
        if (this.options.signal?.aborted) throw this.options.signal.reason;
        if (!retryable(error)) throw error;
        reason = error instanceof Error ? error.message : String(error);
      }
      const delay = delays[attempt];
      if (delay === undefined) {
        throw new TheoryError(
          "ERR_ENDPOINT_MISSING",
          `lost the event stream of run ${runId} (${attempt} reconnects failed)`,
        );
      }
      log.warn("events.reconnect", { attempt: attempt + 1, last_event_id: lastId, delay_ms: delay, reason });
      await sleep(delay, undefined, { signal: this.options.signal }).catch(() => {
        throw this.options.signal?.reason;
      });
    }
  }

  private schedule(): number[] {
    return backoffSchedule(this.options.reconnect ?? STREAM_RECONNECT, Math.random);
  }

  private async resource(response: Response): Promise<RunResource> {
    const resource = parseJson(await response.text(), RunResourceSchema);
    if (!resource)
      throw new TheoryError("ERR_INTERNAL", "the control plane answered an invalid run resource");
    return resource;
  }

  /** fetch with the bearer token; an error answer becomes its TheoryError, no answer ERR_ENDPOINT_MISSING. */
  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        ...init,
        headers: {
          ...(init.headers as Record<string, string>),
          Authorization: `Bearer ${this.options.token}`,
        },
        signal: this.options.signal,
      });
    } catch (error) {
      if (this.options.signal?.aborted) throw this.options.signal.reason;
      throw new TheoryError("ERR_ENDPOINT_MISSING", `the control plane at ${this.baseUrl} is unreachable`, {
        cause: error,
      });
    }
    if (response.ok) return response;
    const body = parseJson(await response.text().catch(() => ""), ApiErrorSchema);
    if (body) throw new TheoryError(body.error.code, body.error.message, { status: response.status });
    throw new TheoryError(
      response.status >= 500 ? "ERR_INTERNAL" : "ERR_INPUTS",
      `the control plane answered HTTP ${response.status} for ${init.method ?? "GET"} ${path}`,
      { status: response.status },
    );
  }
}

/** Worth reconnecting after: no answer, a dropped stream, or a server-side failure (5xx). */
function retryable(error: unknown): boolean {
  if (!(error instanceof TheoryError)) return true;
  return error.code === "ERR_ENDPOINT_MISSING" || error.status >= 500;
}

function parseJson<T>(text: string, schema: { safeParse(value: unknown): { success: boolean; data?: T } }) {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as T) : undefined;
  } catch {
    return undefined;
  }
}
