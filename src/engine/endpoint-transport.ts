import { RUN_SUBPROTOCOL } from "../contract/frames.ts";
import type { BackoffPolicy } from "../core/backoff.ts";
import { TheoryError } from "../core/errors.ts";
import { healthError, pollHealth } from "../core/health.ts";
import type { Logger } from "../core/log.ts";
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

export interface EndpointTransportDeps {
  /**
   * The endpoint's base URL (http(s)://host[:port]) and the digest it was registered with, or null
   * when none is registered for the ref.
   */
  resolve(ref: string): Promise<{ url: string; image_digest?: string } | null>;
  connect: SocketConnector;
  fetch: typeof fetch;
  health: BackoffPolicy;
  /** Sent on the health check and the WebSocket handshake (e.g. Modal proxy auth). */
  headers?: Record<string, string>;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  log?: Logger;
}

const wsUrl = (base: string) => `${base.replace(/^http/, "ws").replace(/\/+$/, "")}/run`;

/**
 * The transport to a processor reachable at a URL (a Modal endpoint, or a container the CLI talks
 * to directly): resolve, one theory.run.v1 socket. A completed handshake proves the endpoint is up,
 * so `/healthz` is polled (bounded backoff) only when the handshake fails — a cold or absent
 * endpoint — and the handshake is tried once more when the poll finds it healthy. Transport only.
 */
export function endpointTransport(deps: EndpointTransportDeps): RunTransport {
  const headers = deps.headers ?? {};

  async function checkHealth(base: string, ref: string, budget?: AbortSignal): Promise<void> {
    const poll = await pollHealth(base, {
      policy: deps.health,
      budget,
      headers,
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
    base: string,
    ref: string,
    handlers: TransportHandlers,
    signal?: AbortSignal,
  ): Promise<TransportSession> {
    deps.log?.info("ws.connect.start", { ref });
    try {
      if (signal?.aborted)
        throw new TheoryError("ERR_ENDPOINT_MISSING", `could not open a run session with ${ref} in time`);
      const session = await deps.connect(wsUrl(base), RUN_SUBPROTOCOL, headers, handlers, signal);
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
        session = await connect(endpoint.url, ref, handlers, options.signal);
      } catch {
        await checkHealth(endpoint.url, ref, options.signal);
        session = await connect(endpoint.url, ref, handlers, options.signal);
      }
      return endpoint.image_digest ? { ...session, imageDigest: endpoint.image_digest } : session;
    },
  };
}
