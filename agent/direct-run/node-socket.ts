import WebSocket from "ws";
import { MAX_FRAME_BYTES } from "../../src/contract/frames.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { refusedHandshake, type SocketConnector } from "../../src/engine/endpoint-transport.ts";

/**
 * A WebSocket dialed from Node (the CLI's direct runs), with the same frame limit as the processor.
 * `signal` gives up the handshake; once the socket is open it no longer applies.
 */
export const nodeConnect: SocketConnector = (url, protocol, headers, handlers, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted)
      return reject(
        new TheoryError("ERR_ENDPOINT_MISSING", "the endpoint did not complete the handshake in time"),
      );
    const socket = new WebSocket(url, [protocol], { headers, maxPayload: MAX_FRAME_BYTES });
    let opened = false;
    socket.on("unexpected-response", (request, response) => {
      response.resume();
      request.destroy();
      reject(refusedHandshake(response.statusCode ?? 0));
    });
    const giveUp = () => {
      socket.terminate();
      reject(new TheoryError("ERR_ENDPOINT_MISSING", "the endpoint did not complete the handshake in time"));
    };
    signal?.addEventListener("abort", giveUp, { once: true });
    socket.on("open", () => {
      opened = true;
      signal?.removeEventListener("abort", giveUp);
      if (socket.protocol !== protocol) {
        socket.close(1002, "subprotocol not agreed");
        return reject(new TheoryError("ERR_ENDPOINT_MISSING", `endpoint did not agree to ${protocol}`));
      }
      resolve({
        send: (text) => socket.send(text),
        close: (code, reason) => socket.close(code, reason),
      });
    });
    socket.on("message", (data, isBinary) => {
      if (isBinary)
        handlers.onError(new TheoryError("ERR_INTERNAL", "processor broke the protocol: a binary frame"));
      else handlers.onMessage(data.toString());
    });
    socket.on("close", (code, reason) => {
      if (opened) handlers.onClose(code, reason.toString());
    });
    socket.on("error", () => {
      signal?.removeEventListener("abort", giveUp);
      if (!opened) reject(new TheoryError("ERR_ENDPOINT_MISSING", "could not connect to the endpoint"));
      else handlers.onError(new TheoryError("ERR_ENDPOINT_MISSING", "run session lost"));
    });
  });
