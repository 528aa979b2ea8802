import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ApiError, Envelope } from "../src/contract/envelope.ts";
import { MAX_FRAME_BYTES } from "../src/contract/frames.ts";
import type { ProcessorPayload } from "../src/contract/payload.ts";
import { canonicalJson } from "../src/core/canonical.ts";
import { TheoryError } from "../src/core/errors.ts";
import { parseJson } from "../src/core/json.ts";
import { encodeSseEvents, openSseStream, SSE_HEADERS } from "../src/core/sse-writer.ts";
import { checkPayload, errorReply, type RunDeps, runTool } from "./run-tool.ts";
import type { Emit, ProgressFrame } from "./tools/tool.ts";

function send(res: ServerResponse, status: number, body: Envelope | ApiError | { ok: true }): void {
  const text = canonicalJson(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Reads a JSON body: 415 for another content type, 413 past the frame limit (checked as it streams
 * in), 400 when malformed or past the contract's JSON limits.
 */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new TheoryError("ERR_INPUTS", "content-type must be application/json", { status: 415 });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_FRAME_BYTES) throw new TheoryError("ERR_INPUTS", "payload over 1 MiB", { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return parseJson(Buffer.concat(chunks).toString("utf8"), "body");
}

/** ERR_INTERNAL is the one contractual error that means the processor itself failed: HTTP 500. */
const statusOf = (envelope: Envelope) =>
  envelope.status === "error" && envelope.error.code === "ERR_INTERNAL" ? 500 : 200;

/** runTool between the `http.run.start` and `http.run.settle` log events (docs/operations.md#logs). */
async function loggedRun(
  payload: ProcessorPayload,
  emit: Emit,
  signal: AbortSignal,
  deps: RunDeps,
  stream: boolean,
): Promise<Envelope> {
  const started = Date.now();
  const run = { execution_id: payload.run_id, ref: deps.tool.definition.ref };
  deps.log.info("http.run.start", { ...run, mode: payload.mode, stream });
  const envelope = await runTool(payload, emit, signal, deps);
  deps.log.info("http.run.settle", {
    ...run,
    status: envelope.status,
    ...(envelope.status === "error" ? { code: envelope.error.code } : {}),
    elapsed_ms: Date.now() - started,
  });
  return envelope;
}

/** Legacy `POST /run` and `POST /run-stream` (SSE): the same runTool as the WebSocket. */
export async function handleRunHttp(
  req: IncomingMessage,
  res: ServerResponse,
  deps: RunDeps,
  stream: boolean,
) {
  let raw: unknown;
  try {
    raw = await readJson(req);
  } catch (error) {
    const failure = error instanceof TheoryError ? error : new TheoryError("ERR_INPUTS", "unreadable body");
    // Drain nothing more: the connection closes after an early error so no body is left unread.
    res.setHeader("connection", "close");
    return send(res, failure.status, errorReply(deps.config, undefined, failure.toBody()));
  }
  const checked = checkPayload(raw);
  if (!checked.ok)
    return send(res, checked.runId ? 200 : 422, errorReply(deps.config, checked.runId, checked.error));

  const abort = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  if (!stream) {
    const envelope = await loggedRun(checked.payload, () => {}, abort.signal, deps, false);
    return send(res, statusOf(envelope), envelope);
  }
  res.writeHead(200, SSE_HEADERS);
  const sse = openSseStream();
  const delivered = pipeline(Readable.fromWeb(sse.responseReadable), res).catch(() => {
    // The client went away mid-stream: the close above already aborted the run.
  });
  let id = 0;
  const emit = (event: string, data: string) =>
    void sse.write(encodeSseEvents([{ event, id: id++, data }], { idAfterEvent: true }));
  const envelope = await loggedRun(
    checked.payload,
    (frame: ProgressFrame) => emit("progress", canonicalJson(frame)),
    abort.signal,
    deps,
    true,
  );
  emit("done", canonicalJson(envelope));
  void sse.close();
  await delivered;
}

export function sendNotFound(res: ServerResponse, deps: RunDeps, what: string): void {
  send(
    res,
    404,
    errorReply(deps.config, undefined, { code: "ERR_NOT_FOUND", message: `no such route: ${what}` }),
  );
}

export function sendHealth(res: ServerResponse): void {
  send(res, 200, { ok: true });
}
