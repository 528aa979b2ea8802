import { echoTool } from "../../processor/tools/echo.ts";
import type { Tool } from "../../processor/tools/tool.ts";
import { canonicalJson } from "../../src/core/canonical.ts";
import { DIGEST_B } from "./examples.ts";
import type { Patch } from "./patched-processor.ts";

type Envelope = Record<string, any>;

/** Rewrites every envelope the processor answers with: RunResult frames, /run bodies, /run-stream's done. */
function envelopePatch(change: (envelope: Envelope) => Envelope, serialize = canonicalJson): Patch {
  const rewrite = (text: string) => {
    const value = JSON.parse(text);
    return typeof value?.status === "string" ? serialize(change(value)) : text;
  };
  return {
    frame(text) {
      const frame = JSON.parse(text);
      if (frame.kind !== "RunResult") return [text];
      return [serialize({ kind: "RunResult", content: change(frame.content) })];
    },
    response({ path, status, body }) {
      if (path === "/run") return { status, body: rewrite(body) };
      if (path === "/run-stream")
        return {
          status,
          body: body.replace(/^data: (.*)$/gm, (_line, data: string) => `data: ${rewrite(data)}`),
        };
      return { status, body };
    },
  };
}

/** The prefix of a success envelope's URIs, read from its index_path. */
const prefixOf = (envelope: Envelope) => String(envelope.index_path).replace(/outputs\.json$/, "");

let counter = 0;
/** echo/text@1 writing something new each run: the same payload no longer gives the same envelope. */
const driftingEcho: Tool = {
  ...(echoTool as Tool),
  run: async (context) => ({ "text/echo.txt": `${(context.params as { text: string }).text} #${++counter}` }),
};

/**
 * One processor per rule it breaks (each otherwise the real one, echo/text@1), with the check that
 * must catch it and words its message must contain.
 */
export const BROKEN_PROCESSORS: readonly { name: string; patch: Patch; check: string; message: string }[] = [
  {
    name: "no Ack",
    patch: { frame: (text) => (JSON.parse(text).kind === "Ack" ? [] : [text]) },
    check: "ws.ack-first",
    message: "the first frame is not Ack naming the run",
  },
  {
    name: "two RunResults",
    patch: { frame: (text) => (JSON.parse(text).kind === "RunResult" ? [text, text] : [text]) },
    check: "ws.one-run-result",
    message: "2 RunResult frame(s)",
  },
  {
    name: "unsorted outputs",
    patch: envelopePatch((envelope) =>
      envelope.status !== "success"
        ? envelope
        : {
            ...envelope,
            outputs: [...envelope.outputs, { path: `${prefixOf(envelope)}a-first.txt` }],
            meta: {
              ...envelope.meta,
              proof: { etag_map: { ...envelope.meta.proof.etag_map, "a-first.txt": "0".repeat(32) } },
            },
          },
    ),
    check: "envelope.rules",
    message: "outputs are not sorted and unique",
  },
  {
    name: "a path outside the prefix",
    patch: envelopePatch((envelope) =>
      envelope.status !== "success"
        ? envelope
        : { ...envelope, outputs: [{ path: "local://elsewhere/text/echo.txt" }] },
    ),
    check: "envelope.rules",
    message: "an output is outside local://outputs/echo.text.1/",
  },
  {
    name: "a wrong digest",
    patch: envelopePatch((envelope) => ({ ...envelope, meta: { ...envelope.meta, image_digest: DIGEST_B } })),
    check: "envelope.identity",
    message: `image_digest ${DIGEST_B} is not sha256:aaaa`,
  },
  {
    name: "non-canonical bytes",
    // Insertion order, as a plain JSON.stringify of a hand-built object gives: status first.
    patch: envelopePatch(
      ({ status, ...rest }) => ({ status, ...rest }),
      (value) => JSON.stringify(value),
    ),
    check: "envelope.canonical",
    message: "not canonical JSON from byte",
  },
  {
    name: "1000 instead of 1002 on a protocol error",
    patch: { closeCode: (code) => (code === 1002 ? 1000 : code) },
    check: "ws.protocol.unknown-kind",
    message: "closed with 1000, not 1002",
  },
  {
    name: "200 instead of 415",
    patch: { response: (answer) => (answer.status === 415 ? { ...answer, status: 200 } : answer) },
    check: "http.wrong-content-type",
    message: "answered 200, not 415",
  },
  {
    name: "a non-deterministic envelope",
    patch: { tools: [driftingEcho] },
    check: "determinism.repeat",
    message: "two runs of one payload differ",
  },
];
