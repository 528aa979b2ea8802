import { setTimeout as sleep } from "node:timers/promises";
import type { z } from "zod";
import {
  type EndpointRegistration,
  EndpointResourceSchema,
  type RunRequest,
  type RunResource,
  RunResourceSchema,
} from "../../src/contract/api.ts";
import { ApiErrorSchema, type Envelope, EnvelopeSchema } from "../../src/contract/envelope.ts";
import { DONE_EVENT } from "../../src/contract/run-events.ts";
import { type BackoffPolicy, backoffSchedule } from "../../src/core/backoff.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import { readSse, type SseEvent } from "../../src/core/sse-reader.ts";
import type { CliContext } from "../cli/context.ts";

export type { SseEvent } from "../../src/core/sse-reader.ts";

/** Reconnects after the event stream drops before `done`: about 200 ms -> 2 s, 15 s in all, per drop. */
export const STREAM_RECONNECT: BackoffPolicy = {
  initialMs: 200,
  maxMs: 2000,
  factor: 2,
  jitter: 0.2,
  totalMs: 15_000,
};

/** How long a call other than the event stream may take to answer, beyond any `Prefer: wait`. */
export const REQUEST_TIMEOUT_MS = 15_000;

export interface ControlPlaneClientOptions {
  /** The control plane's base URL (config.controlPlane). */
  baseUrl: string;
  /** The bearer token (config.token); never logged. */
  token: string;
  log: Logger;
  signal?: AbortSignal;
  reconnect?: BackoffPolicy;
  /** REQUEST_TIMEOUT_MS unless a test says otherwise. */
  requestTimeoutMs?: number;
}

/** `/v1/endpoints/{ref}`: where a ref's Modal URL is registered (never its token). */
const EndpointSchema = EndpointResourceSchema;
export type Endpoint = z.infer<typeof EndpointSchema>;

/** One settled envelope: the persisted canonical bytes and what they say. */
export interface PersistedEnvelope {
  text: string;
  envelope: Envelope;
}

/** The client for the configured control plane; no URL -> ERR_INPUTS, no token -> ERR_AUTH. */
export function controlPlaneClientFor(context: CliContext): ControlPlaneClient {
  const { controlPlane, token } = context.config;
  if (!controlPlane)
    throw new TheoryError("ERR_INPUTS", "give --control-plane URL or set THEORY_CONTROL_PLANE");
  if (!token) throw new TheoryError("ERR_AUTH", "set THEORY_TOKEN to a control plane token");
  return new ControlPlaneClient({ baseUrl: controlPlane, token, log: context.log, signal: context.signal });
}

/**
 * The control plane's API as the CLI uses it (`/v1/runs`, `/v1/endpoints`): bearer auth, one
 * failure mapping for every call (no answer -> ERR_ENDPOINT_MISSING, an error body -> its ERR_*
 * code), a timeout on every call but the SSE event stream, which is resumed with Last-Event-ID
 * when it drops.
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
    const text = await this.call(
      "/v1/runs",
      {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          ...(waitSeconds ? { Prefer: `wait=${waitSeconds}` } : {}),
        },
        body: JSON.stringify(request),
      },
      (waitSeconds ?? 0) * 1000,
    );
    return this.resource(text);
  }

  async getRun(runId: string): Promise<RunResource> {
    return this.resource(await this.call(`/v1/runs/${encodeURIComponent(runId)}`));
  }

  async cancelRun(runId: string): Promise<RunResource> {
    return this.resource(await this.call(`/v1/runs/${encodeURIComponent(runId)}/cancel`, { method: "POST" }));
  }

  /** GET /v1/runs/{id}/envelope: exactly the persisted bytes. */
  async getEnvelope(runId: string): Promise<PersistedEnvelope> {
    const text = await this.call(`/v1/runs/${encodeURIComponent(runId)}/envelope`);
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
        const response = await this.send(
          `/v1/runs/${encodeURIComponent(runId)}/events`,
          { headers: { Accept: "text/event-stream", ...(lastId ? { "Last-Event-ID": lastId } : {}) } },
          this.options.signal,
        );
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

  /** PUT /v1/endpoints/{ref}: register (or replace) the ref's URL. */
  async putEndpoint(ref: string, registration: EndpointRegistration): Promise<Endpoint> {
    const text = await this.call(endpointPath(ref), {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(registration),
    });
    return this.endpoint(text);
  }

  /** The ref's registration, or null when none exists. */
  async getEndpoint(ref: string): Promise<Endpoint | null> {
    const text = await this.call(endpointPath(ref)).catch(nullWhenNotFound);
    return text === null ? null : this.endpoint(text);
  }

  /** True when a registration was removed, false when there was none. */
  async deleteEndpoint(ref: string): Promise<boolean> {
    return (await this.call(endpointPath(ref), { method: "DELETE" }).catch(nullWhenNotFound)) !== null;
  }

  private schedule(): number[] {
    return backoffSchedule(this.options.reconnect ?? STREAM_RECONNECT, Math.random);
  }

  private resource(text: string): RunResource {
    const resource = parseJson(text, RunResourceSchema);
    if (!resource)
      throw new TheoryError("ERR_INTERNAL", "the control plane answered an invalid run resource");
    return resource;
  }

  private endpoint(text: string): Endpoint {
    const endpoint = parseJson(text, EndpointSchema);
    if (!endpoint)
      throw new TheoryError("ERR_INTERNAL", "the control plane answered an invalid endpoint registration");
    return endpoint;
  }

  /** A call other than the event stream: its answer's text, all of it within the timeout (plus `extraMs`). */
  private async call(path: string, init: RequestInit = {}, extraMs = 0): Promise<string> {
    const timeoutMs = (this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS) + extraMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, timeout]) : timeout;
    const response = await this.send(path, init, signal);
    try {
      return await response.text();
    } catch (error) {
      throw this.noAnswer(error);
    }
  }

  /** fetch with the bearer token; an error answer becomes its TheoryError, no answer ERR_ENDPOINT_MISSING. */
  private async send(path: string, init: RequestInit, signal: AbortSignal | undefined): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        ...init,
        headers: {
          ...(init.headers as Record<string, string>),
          Authorization: `Bearer ${this.options.token}`,
        },
        signal,
      });
    } catch (error) {
      throw this.noAnswer(error);
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

  /** Stopped by the caller: its reason; else the control plane did not answer (in time). */
  private noAnswer(error: unknown): unknown {
    if (this.options.signal?.aborted) return this.options.signal.reason;
    const late = error instanceof Error && error.name === "TimeoutError" ? " (no answer in time)" : "";
    return new TheoryError(
      "ERR_ENDPOINT_MISSING",
      `the control plane at ${this.baseUrl} is unreachable${late}`,
      {
        cause: error,
      },
    );
  }
}

/** The ref unencoded: its slash is the route's own (`/v1/endpoints/{namespace}/{name@version}`). */
const endpointPath = (ref: string) => `/v1/endpoints/${ref}`;

/** A 404 (no such registration) as null; any other failure as it is. */
function nullWhenNotFound(error: unknown): null {
  if (error instanceof TheoryError && error.status === 404) return null;
  throw error;
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
