// How the kit talks to a processor: one theory.run.v1 conversation, one HTTP request. The project's
// own processor tests use these too (test/support/processor.ts), so both hold a processor to the
// same wire.
import WebSocket from "ws";
import { RUN_SUBPROTOCOL } from "../../src/contract/frames.ts";

/** A frame as received: nothing about it is trusted until a check has looked. */
export interface ReceivedFrame {
  kind?: unknown;
  content?: Record<string, unknown>;
}

export interface WsConversation<F = ReceivedFrame> {
  /** Every text frame received, parsed; a frame that is not a JSON object is `{}`. */
  frames: F[];
  /** The exact texts received, for byte-level comparisons. */
  texts: string[];
  /** The close code the processor sent (1005 when none; 0 when the kit gave up waiting). */
  code: number;
  reason: string;
  /** The subprotocol the processor agreed to, "" for none. */
  protocol: string;
  /** Binary messages received (never part of theory.run.v1). */
  binary: number;
  /** Milliseconds from the first frame sent to the close. */
  elapsedMs: number;
  /** The kit stopped waiting after its time budget and dropped the connection. */
  timedOut: boolean;
}

export interface ConverseOptions {
  onFrame?: (frame: ReceivedFrame, socket: WebSocket) => void;
  protocols?: string[];
  headers?: Record<string, string>;
  /** How long the whole conversation may take before the kit drops it (default 30 s). */
  timeoutMs?: number;
}

const parseFrame = (text: string): ReceivedFrame => {
  try {
    const frame: unknown = JSON.parse(text);
    return frame !== null && typeof frame === "object" ? (frame as ReceivedFrame) : {};
  } catch {
    return {};
  }
};

/**
 * Opens a theory.run.v1 socket, sends `outgoing` in one write (strings verbatim, objects as JSON),
 * optionally reacts to frames, and resolves with everything received once the processor closes or
 * the time budget runs out. Rejects only when the handshake fails (its message names the status).
 */
export function converse(
  url: string,
  outgoing: (string | object | Buffer)[],
  options: ConverseOptions = {},
): Promise<WsConversation> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options.protocols ?? [RUN_SUBPROTOCOL], { headers: options.headers });
    const result: WsConversation = {
      frames: [],
      texts: [],
      code: 0,
      reason: "",
      protocol: "",
      binary: 0,
      elapsedMs: 0,
      timedOut: false,
    };
    let opened = false;
    let started = Date.now();
    const timer = setTimeout(() => {
      result.timedOut = true;
      socket.terminate();
    }, options.timeoutMs ?? 30_000);
    socket.on("open", () => {
      opened = true;
      result.protocol = socket.protocol;
      started = Date.now();
      // One write, so frames sent together reach the processor together (a second RunOpen arrives
      // while the first run is going, however fast the tool is).
      const raw = (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
      raw?.cork();
      for (const item of outgoing) {
        socket.send(
          typeof item === "string" || Buffer.isBuffer(item)
            ? (item as string | Buffer)
            : JSON.stringify(item),
        );
      }
      raw?.uncork();
    });
    socket.on("message", (data, isBinary) => {
      if (isBinary) {
        result.binary += 1;
        return;
      }
      const text = data.toString();
      const frame = parseFrame(text);
      result.texts.push(text);
      result.frames.push(frame);
      options.onFrame?.(frame, socket);
    });
    socket.on("error", (error) => {
      if (!opened) {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on("close", (code, reason) => {
      clearTimeout(timer);
      if (!opened) return;
      resolve({
        ...result,
        code: result.timedOut ? 0 : code,
        reason: reason.toString(),
        elapsedMs: Date.now() - started,
      });
    });
  });
}

export interface HttpAnswer {
  status: number;
  text: string;
  headers: Headers;
}

/** POSTs `body` (a string verbatim, else JSON) with a JSON content type unless `headers` say otherwise. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

export const runOpen = (payload: object) => ({ kind: "RunOpen", content: { role: "client", payload } });
export const CANCEL = { kind: "Cancel", content: {} };
