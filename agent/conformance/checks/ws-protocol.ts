// theory.run.v1 against a client that breaks it: the processor closes with 1002 (1009 for a frame
// over 1 MiB) and answers no RunResult (docs/protocols.md#theoryrunv1).
import { MAX_FRAME_BYTES } from "../../../src/contract/frames.ts";
import { CANCEL, runOpen } from "../client.ts";
import { sampleInputs } from "../fixtures.ts";
import { type Check, describeTalk, fail, type KitSession, pass } from "../session.ts";

const PROTOCOL_ERROR = 1002;
const TOO_BIG = 1009;

/** A check that sends `frames` and expects the processor to close with `code` and send no RunResult. */
function closesWith(
  name: string,
  rule: string,
  code: number,
  frames: (session: KitSession) => (string | object | Buffer)[],
): Check {
  return {
    name,
    rule,
    async run(session) {
      const talk = await session.converse(frames(session), { timeoutMs: 10_000 });
      // Past the frame limit nothing is read, so nothing is answered either.
      const results =
        code === TOO_BIG
          ? talk.frames.length
          : talk.frames.filter((frame) => frame.kind === "RunResult").length;
      const reasonRequired = code === PROTOCOL_ERROR;
      if (talk.code !== code || results > 0 || (reasonRequired && !talk.reason.startsWith("ERR_INPUTS: ")))
        return fail(
          talk.timedOut
            ? "no close within 10 s"
            : talk.code !== code
              ? `closed with ${talk.code}, not ${code}`
              : results > 0
                ? `answered with ${results} frame(s)`
                : `close reason ${JSON.stringify(talk.reason)} does not start with "ERR_INPUTS: "`,
          {
            observed: describeTalk(talk),
            expected: {
              close: code,
              ...(reasonRequired ? { reason: "ERR_INPUTS: …" } : {}),
              RunResult: "none",
            },
          },
        );
      return pass(`closed ${code}${talk.reason ? ` (${talk.reason})` : ""}`);
    },
  };
}

/** A run long enough that a second RunOpen sent with the first arrives while it is going. */
const busyPayload = (session: KitSession, runId: string) => {
  const samples = sampleInputs(session.target.tool);
  return session.payload(runId, { inputs: samples.long ?? samples.sample });
};

export const WS_PROTOCOL_CHECKS: readonly Check[] = [
  closesWith("ws.protocol.cancel-first", "a Cancel before RunOpen closes 1002", PROTOCOL_ERROR, () => [
    CANCEL,
  ]),
  closesWith("ws.protocol.unknown-kind", "a frame of an unknown kind closes 1002", PROTOCOL_ERROR, () => [
    { kind: "Hello", content: {} },
  ]),
  closesWith("ws.protocol.malformed-json", "a frame that is not JSON closes 1002", PROTOCOL_ERROR, () => [
    "{not json",
  ]),
  closesWith("ws.protocol.binary-frame", "a binary frame closes 1002", PROTOCOL_ERROR, () => [
    Buffer.from([1, 2, 3]),
  ]),
  closesWith(
    "ws.protocol.no-run-id",
    "a RunOpen without a readable run_id closes 1002",
    PROTOCOL_ERROR,
    (session) => [runOpen({ mode: "mock", inputs: sampleInputs(session.target.tool).sample })],
  ),
  closesWith("ws.protocol.second-open", "a second RunOpen closes 1002", PROTOCOL_ERROR, (session) => {
    const runId = session.runId("twice");
    return [runOpen(busyPayload(session, runId)), runOpen(session.payload(runId))];
  }),
  closesWith("ws.frame-too-large", "a frame over 1 MiB closes 1009, unanswered", TOO_BIG, (session) => [
    runOpen(
      session.payload(session.runId("huge"), {
        inputs: sampleInputs(session.target.tool).sample,
        padding: "x".repeat(MAX_FRAME_BYTES),
      }),
    ),
  ]),
];
