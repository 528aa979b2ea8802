import type { RouteConfig } from "@hono/zod-openapi";
import {
  type AgentStatus,
  type Endpoint,
  type EndpointRegistration,
  MAX_RUN_PAGE,
  REPLAY_WAIT_S,
  type Receipt,
  type ReplayRequest,
  type ReplayVerdict,
  type RunListQuery,
  type RunPage,
  type RunRequest,
  type RunResource,
  type ToolResource,
  type Whoami,
} from "../contract/api.ts";
import { ApiErrorSchema, type Envelope, EnvelopeSchema } from "../contract/envelope.ts";
import {
  cancelRunRoute,
  createRunRoute,
  deleteEndpointRoute,
  getEndpointRoute,
  getEnvelopeRoute,
  getOutputRoute,
  getReceiptRoute,
  getRunRoute,
  getToolRoute,
  listAgentsRoute,
  listEndpointsRoute,
  listRunsRoute,
  listToolsRoute,
  putEndpointRoute,
  replayRunRoute,
  runEventsRoute,
  whoamiRoute,
} from "../contract/routes.ts";
import { DONE_EVENT } from "../contract/run-events.ts";
import { type BackoffPolicy, backoffSchedule } from "../core/backoff.ts";
import { TheoryError } from "../core/errors.ts";
import { pause } from "../core/health.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { readSse, type SseEvent } from "../core/sse-reader.ts";
import { parseAnswer, type RouteInput, type RouteOutput, routeBody, routePath } from "./typed-routes.ts";

/** Reconnects after the event stream drops before `done`: about 200 ms -> 2 s, 15 s in all, per drop. */
export const STREAM_RECONNECT: BackoffPolicy = {
  initialMs: 200,
  maxMs: 2000,
  factor: 2,
  jitter: 0.2,
  totalMs: 15_000,
};

/** How long a call may take to answer (a streamed body: to start answering), beyond any `Prefer: wait`. */
export const REQUEST_TIMEOUT_MS = 15_000;

export interface ControlPlaneClientOptions {
  /** The control plane's base URL. */
  baseUrl: string;
  /** The bearer token; never logged. */
  token: string;
  /** NDJSON on stderr (the console elsewhere) at info, unless given. */
  log?: Logger;
  /** Stops every call in flight and every wait. */
  signal?: AbortSignal;
  reconnect?: BackoffPolicy;
  /** REQUEST_TIMEOUT_MS unless said otherwise. */
  requestTimeoutMs?: number;
}

/** One settled envelope: the persisted canonical bytes and what they say. */
export interface PersistedEnvelope {
  text: string;
  envelope: Envelope;
}

/** One output being downloaded: its bytes as they arrive, and what the control plane said of them. */
export interface OutputDownload {
  body: ReadableStream<Uint8Array>;
  /** Unquoted: the stored object's ETag (for a world-scope output, the MD5 the run's proof holds). */
  etag: string | null;
  contentType: string | null;
  size: number | null;
}

/**
 * The control plane's API (docs/api.md#the-typed-client), typed from its route definitions
 * (src/contract/routes.ts): bearer auth, one failure mapping for every call (no answer ->
 * ERR_ENDPOINT_MISSING, an error body -> its ERR_* code), a timeout on every call but the SSE
 * event stream, which is resumed with Last-Event-ID when it drops. Runs on Node and in browsers.
 */
export class ControlPlaneClient {
  private readonly baseUrl: string;
  private readonly options: ControlPlaneClientOptions;
  private readonly log: Logger;

  constructor(options: ControlPlaneClientOptions) {
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.log = options.log ?? createLogger({ secrets: [options.token], fields: { target: "client" } });
  }

  /**
   * Any route, typed by its definition: params, query and body in, the parsed success answer out.
   * `waitMs` extends the timeout (a held `Prefer: wait`).
   */
  async call<R extends RouteConfig>(
    route: R,
    input: RouteInput<R>,
    options: { waitMs?: number } = {},
  ): Promise<RouteOutput<R>> {
    const { status, text } = await this.text(route, input, options.waitMs ?? 0);
    return parseAnswer(route, status, text);
  }

  /** GET /v1/whoami: the token's name, scopes and bound agent. */
  async whoami(): Promise<Whoami> {
    return this.call(whoamiRoute, {});
  }

  /** POST /v1/runs; with `waitSeconds`, `Prefer: wait=N` (the answer may still be unsettled). */
  async createRun(request: RunRequest, waitSeconds?: number): Promise<RunResource> {
    return this.call(
      createRunRoute,
      { body: request, headers: waitSeconds ? { Prefer: `wait=${waitSeconds}` } : {} },
      { waitMs: (waitSeconds ?? 0) * 1000 },
    );
  }

  async getRun(runId: string): Promise<RunResource> {
    return this.call(getRunRoute, { params: { id: runId } });
  }

  async cancelRun(runId: string): Promise<RunResource> {
    return this.call(cancelRunRoute, { params: { id: runId } });
  }

  /**
   * POST /v1/runs/{id}/replay: held until the replay settles (at most 60 s), then its verdict;
   * `pending` when it had not — asking again with the same `run_id` gives the verdict later.
   */
  async replayRun(runId: string, request: ReplayRequest = {}): Promise<ReplayVerdict> {
    return this.call(
      replayRunRoute,
      { params: { id: runId }, body: request },
      { waitMs: REPLAY_WAIT_S * 1000 },
    );
  }

  /** GET /v1/runs: one page, newest first. */
  async listRuns(query: RunListQuery = {}): Promise<RunPage> {
    return this.call(listRunsRoute, { query });
  }

  /**
   * The pages of GET /v1/runs, one after the other, until `max` runs (default: all) were given; the
   * last page's `next_cursor` continues from there.
   */
  async *pages(
    query: Omit<RunListQuery, "limit"> = {},
    max = Number.POSITIVE_INFINITY,
  ): AsyncGenerator<RunPage> {
    let cursor = query.cursor;
    let left = max;
    while (left > 0) {
      const page = await this.listRuns({ ...query, cursor, limit: Math.min(left, MAX_RUN_PAGE) });
      yield page;
      left -= page.runs.length;
      if (!page.next_cursor) return;
      cursor = page.next_cursor;
    }
  }

  /** GET /v1/runs/{id}/envelope: exactly the persisted bytes. */
  async getEnvelope(runId: string): Promise<PersistedEnvelope> {
    const { text } = await this.text(getEnvelopeRoute, { params: { id: runId } }, 0);
    const envelope = EnvelopeSchema.safeParse(safeJson(text));
    if (!envelope.success)
      throw new TheoryError("ERR_INTERNAL", `the control plane's envelope for ${runId} is invalid`);
    return { text, envelope: envelope.data };
  }

  async getReceipt(runId: string): Promise<Receipt> {
    return this.call(getReceiptRoute, { params: { id: runId } });
  }

  /** GET /v1/runs/{id}/outputs/{path}: a world-scope output, streamed (the timeout covers its start). */
  async getOutput(runId: string, path: string): Promise<OutputDownload> {
    const response = await this.open(getOutputRoute, { params: { id: runId, path } });
    if (!response.body) throw new TheoryError("ERR_INTERNAL", `no body for output ${path} of run ${runId}`);
    const length = response.headers.get("Content-Length");
    return {
      body: response.body,
      etag: response.headers.get("ETag")?.replace(/^(W\/)?"(.*)"$/, "$2") ?? null,
      contentType: response.headers.get("Content-Type"),
      size: length === null ? null : Number(length),
    };
  }

  /**
   * The run's events after `after` (seq), ending with `done`. A stream that drops (or a 5xx, or
   * an unreachable control plane) before `done` is reopened with Last-Event-ID = the last seq seen,
   * after a bounded backoff; the schedule restarts whenever an event arrives.
   */
  async *events(runId: string, options: { after?: number } = {}): AsyncGenerator<SseEvent> {
    const log = this.log.child({ execution_id: runId });
    let lastId = options.after && options.after > 0 ? String(options.after) : undefined;
    let delays = this.schedule();
    for (let attempt = 0; ; attempt++) {
      let reason: unknown;
      log.debug("events.open", { attempt, last_event_id: lastId });
      try {
        const input = {
          params: { id: runId },
          headers: { Accept: "text/event-stream", ...(lastId ? { "Last-Event-ID": lastId } : {}) },
        };
        const response = await this.send(runEventsRoute, input, this.options.signal);
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
      await pause(delay, this.options.signal);
    }
  }

  /** GET /v1/endpoints: every registration, by ref. */
  async listEndpoints(): Promise<Endpoint[]> {
    return (await this.call(listEndpointsRoute, {})).endpoints;
  }

  /** PUT /v1/endpoints/{ref}: register (or replace) the ref's URL. */
  async putEndpoint(ref: string, registration: EndpointRegistration): Promise<Endpoint> {
    return this.call(putEndpointRoute, { params: refParams(ref), body: registration });
  }

  /** The ref's registration, or null when none exists. */
  async getEndpoint(ref: string): Promise<Endpoint | null> {
    return this.call(getEndpointRoute, { params: refParams(ref) }).catch(nullWhenNotFound);
  }

  /** True when a registration was removed, false when there was none. */
  async deleteEndpoint(ref: string): Promise<boolean> {
    const removed = await this.call(deleteEndpointRoute, { params: refParams(ref) }).then(
      () => true,
      nullWhenNotFound,
    );
    return removed === true;
  }

  async listAgents(): Promise<AgentStatus[]> {
    return (await this.call(listAgentsRoute, {})).agents;
  }

  /** GET /v1/tools: the tools the control plane can run, with their schemas. */
  async listTools(): Promise<ToolResource[]> {
    return (await this.call(listToolsRoute, {})).tools;
  }

  /** GET /v1/tools/{ref}: one tool, or ERR_NOT_FOUND. */
  async getTool(ref: string): Promise<ToolResource> {
    return this.call(getToolRoute, { params: refParams(ref) });
  }

  private schedule(): number[] {
    return backoffSchedule(this.options.reconnect ?? STREAM_RECONNECT, Math.random);
  }

  /** A call's answer, all of it read within the timeout (plus `extraMs`). */
  private async text<R extends RouteConfig>(route: R, input: RouteInput<R>, extraMs: number) {
    const timeout = AbortSignal.timeout((this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS) + extraMs);
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, timeout]) : timeout;
    const response = await this.send(route, input, signal);
    try {
      return { status: response.status, text: await response.text() };
    } catch (error) {
      throw this.noAnswer(error);
    }
  }

  /** A streamed answer: the timeout covers its start only, the caller's signal all of it. */
  private async open<R extends RouteConfig>(route: R, input: RouteInput<R>): Promise<Response> {
    const started = new AbortController();
    const timer = setTimeout(
      () => started.abort(new DOMException("no answer in time", "TimeoutError")),
      this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    );
    const signal = this.options.signal
      ? AbortSignal.any([this.options.signal, started.signal])
      : started.signal;
    try {
      return await this.send(route, input, signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /** fetch with the bearer token; an error answer becomes its TheoryError, no answer ERR_ENDPOINT_MISSING. */
  private async send<R extends RouteConfig>(
    route: R,
    input: RouteInput<R>,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const path = routePath(route, input);
    const body = routeBody(input);
    const method = route.method.toUpperCase();
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          ...input.headers,
          Authorization: `Bearer ${this.options.token}`,
        },
        ...(body === undefined ? {} : { body }),
        signal,
      });
    } catch (error) {
      throw this.noAnswer(error);
    }
    if (response.ok) return response;
    const parsed = ApiErrorSchema.safeParse(safeJson(await response.text().catch(() => "")));
    if (parsed.success)
      throw new TheoryError(parsed.data.error.code, parsed.data.error.message, { status: response.status });
    throw new TheoryError(
      response.status >= 500 ? "ERR_INTERNAL" : "ERR_INPUTS",
      `the control plane answered HTTP ${response.status} for ${method} ${path}`,
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

/** `/v1/endpoints/{namespace}/{name@version}`: the ref's slash is the route's own (the server judges the rest). */
function refParams(ref: string): { namespace: string; name: string } {
  const slash = ref.indexOf("/");
  return slash < 0
    ? { namespace: ref, name: "" }
    : { namespace: ref.slice(0, slash), name: ref.slice(slash + 1) };
}

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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
