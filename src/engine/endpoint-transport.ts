import { RUN_SUBPROTOCOL } from "../contract/frames.ts";
import type { BackoffPolicy } from "../core/backoff.ts";
import { TheoryError } from "../core/errors.ts";
import { healthError, pollHealth } from "../core/health.ts";
import type { Logger } from "../core/log.ts";
import { processorAuthHeaders } from "../core/processor-auth.ts";
import type { RunTransport, TransportHandlers, TransportSession } from "./transport.ts";

/**
 * Opens one WebSocket with the given subprotocol; rejects when the handshake fails, or is given up
 * because `signal` aborted. The signal bounds the handshake only, never the open session.
 */
export type SocketConnector = (
  url: string,
  protocol: string,
  headers: Record<string, string>,
  handlers: TransportHandlers,
  signal?: AbortSignal,
) => Promise<TransportSession>;

/**
 * The one mapping of a run handshake the endpoint answered without upgrading (every connector
 * uses it): 401/403 refused the credentials (the processor's token, or Modal's proxy auth in front
 * of it) and another attempt would be refused alike; any other status: no run session there.
 */
export function refusedHandshake(status: number): TheoryError {
  if (status === 401 || status === 403)
    return new TheoryError("ERR_AUTH", `the endpoint refused the run's credentials (HTTP ${status})`);
  return new TheoryError("ERR_ENDPOINT_MISSING", `endpoint refused the WebSocket (HTTP ${status})`);
}

/** Where a ref's processor is and what admits a run there. */
export interface ResolvedEndpoint {
  /** The base URL, http(s)://host[:port]. */
  url: string;
  /** The processor's token: a bearer token on the run's handshake only (`/healthz` is open). */
  token: string;
  /** Sent on the health check and the handshake: Modal proxy auth, for an endpoint behind it. */
  headers?: Record<string, string>;
  /** The digest it was registered or started with, when known (the control plane's own envelopes keep it). */
  image_digest?: string;
}

export interface EndpointTransportDeps {
  /** The ref's endpoint, or null when none is registered for it; may reject with a TheoryError. */
  resolve(ref: string): Promise<ResolvedEndpoint | null>;
  connect: SocketConnector;
  fetch: typeof fetch;
  health: BackoffPolicy;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  log?: Logger;
}

const wsUrl = (base: string) => `${base.replace(/^http/, "ws").replace(/\/+$/, "")}/run`;

/**
 * The transport to a processor reachable at a URL (a Modal endpoint, or a container the CLI talks
 * to directly): resolve, one theory.run.v1 socket. A completed handshake proves the endpoint is up,
 * so `/healthz` is polled (bounded backoff) only when the handshake fails — a cold or absent
 * endpoint — and the handshake is tried once more when the poll finds it healthy: a processor that
 * is healthy yet refuses the handshake refused its token (ERR_AUTH). Transport only.
 */
export function endpointTransport(deps: EndpointTransportDeps): RunTransport {
  async function checkHealth(endpoint: ResolvedEndpoint, ref: string, budget?: AbortSignal): Promise<void> {
    const poll = await pollHealth(endpoint.url, {
      policy: deps.health,
      budget,
      headers: endpoint.headers ?? {},
      fetch: deps.fetch,
      sleep: deps.sleep,
      random: deps.random,
    });
    if (poll.state === "healthy") {
      deps.log?.info("adapter.health.ok", { ref });
      return;
    }
    deps.log?.warn("adapter.health.error", { ref, status: "status" in poll ? poll.status : undefined });
    throw healthError(poll, { kind: "registered", name: `endpoint for ${ref}` });
  }

  async function connect(
    endpoint: ResolvedEndpoint,
    ref: string,
    handlers: TransportHandlers,
    signal?: AbortSignal,
  ): Promise<TransportSession> {
    deps.log?.info("ws.connect.start", { ref });
    const headers = { ...endpoint.headers, ...processorAuthHeaders(endpoint.token) };
    try {
      if (signal?.aborted)
        throw new TheoryError("ERR_ENDPOINT_MISSING", `could not open a run session with ${ref} in time`);
      const session = await deps.connect(wsUrl(endpoint.url), RUN_SUBPROTOCOL, headers, handlers, signal);
      deps.log?.info("ws.connect.ok", { ref, protocol: RUN_SUBPROTOCOL });
      return session;
    } catch (error) {
      deps.log?.warn("ws.connect.error", { ref, error: error as Error });
      if (error instanceof TheoryError) throw error;
      throw new TheoryError("ERR_ENDPOINT_MISSING", `could not open a run session with ${ref}`);
    }
  }

  return {
    async open({ ref }, handlers, options = {}) {
      const endpoint = await deps.resolve(ref);
      deps.log?.info("adapter.url.resolve", { ref, found: endpoint !== null });
      if (!endpoint) throw new TheoryError("ERR_ENDPOINT_MISSING", `no endpoint registered for ${ref}`);
      let session: TransportSession;
      try {
        session = await connect(endpoint, ref, handlers, options.signal);
      } catch {
        await checkHealth(endpoint, ref, options.signal);
        session = await connect(endpoint, ref, handlers, options.signal);
      }
      return endpoint.image_digest ? { ...session, imageDigest: endpoint.image_digest } : session;
    },
  };
}
