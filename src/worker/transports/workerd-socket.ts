import {
  CLOSE_RUN_FAILED,
  CLOSE_RUN_RELAYED,
  parseRelayedCloseReason,
  parseRunFailedReason,
} from "../../contract/agent-frames.ts";
import { TheoryError } from "../../core/errors.ts";
import { refusedHandshake, type SocketConnector } from "../../engine/endpoint-transport.ts";
import type { TransportHandlers, TransportSession } from "../../engine/transport.ts";

/**
 * Wires an accepted workerd WebSocket to transport handlers. A close with CLOSE_RUN_FAILED carries a
 * taxonomy error (agent lost, container not started) and settles the run with it; one with
 * CLOSE_RUN_RELAYED carries the processor's own close code, which is reported as if it closed here.
 */
export function wireSocket(socket: WebSocket, handlers: TransportHandlers): TransportSession {
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") handlers.onMessage(event.data);
    else handlers.onError(new TheoryError("ERR_INTERNAL", "processor broke the protocol: a binary frame"));
  });
  socket.addEventListener("close", (event) => {
    if (event.code === CLOSE_RUN_FAILED) {
      const failure = parseRunFailedReason(event.reason);
      handlers.onError(new TheoryError(failure.code, failure.message));
      return;
    }
    if (event.code === CLOSE_RUN_RELAYED) {
      const relayed = parseRelayedCloseReason(event.reason);
      return handlers.onClose(relayed.code, relayed.reason);
    }
    handlers.onClose(event.code, event.reason);
  });
  socket.addEventListener("error", () =>
    handlers.onError(new TheoryError("ERR_ENDPOINT_MISSING", "run session lost")),
  );
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => {
      try {
        socket.close(code, reason);
      } catch {
        // Already closed.
      }
    },
  };
}

/**
 * A WebSocket dialed out of workerd: fetch with `Upgrade: websocket`, then accept. Such a socket
 * keeps its Durable Object awake (it cannot hibernate), so runs stay bounded by their budget.
 */
export const workerdConnect: SocketConnector = async (url, protocol, headers, handlers, signal) => {
  const response = await handshake(signal, (handshakeSignal) =>
    fetch(url.replace(/^ws/, "http"), {
      headers: { ...headers, Upgrade: "websocket", "Sec-WebSocket-Protocol": protocol },
      signal: handshakeSignal,
    }),
  ).catch((error: unknown) => {
    if (error instanceof TheoryError) throw error;
    throw new TheoryError("ERR_ENDPOINT_MISSING", "could not connect to the endpoint");
  });
  const socket = response.webSocket;
  if (!socket) {
    await response.body?.cancel();
    throw refusedHandshake(response.status);
  }
  socket.accept();
  if (response.headers.get("Sec-WebSocket-Protocol") !== protocol) {
    socket.close(1002, "subprotocol not agreed");
    throw new TheoryError("ERR_ENDPOINT_MISSING", `endpoint did not agree to ${protocol}`);
  }
  return wireSocket(socket, handlers);
};

/**
 * Runs a handshake bounded by `signal`, through a signal of its own that is cut loose once the
 * handshake is done, so aborting later can never reach the socket it opened.
 */
async function handshake<T>(
  signal: AbortSignal | undefined,
  open: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const bound = new AbortController();
  const giveUp = () =>
    bound.abort(
      new TheoryError("ERR_ENDPOINT_MISSING", "the endpoint did not complete the handshake in time"),
    );
  if (signal?.aborted) giveUp();
  signal?.addEventListener("abort", giveUp, { once: true });
  try {
    return await open(bound.signal);
  } finally {
    signal?.removeEventListener("abort", giveUp);
  }
}
