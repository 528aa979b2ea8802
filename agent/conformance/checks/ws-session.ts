// theory.run.v1 as a well-behaved client sees it (docs/protocols.md#theoryrunv1).
import { ProcessorFrameSchema, RUN_SUBPROTOCOL } from "../../../src/contract/frames.ts";
import { CANCEL } from "../client.ts";
import { sampleInputs } from "../fixtures.ts";
import { type Check, describeTalk, fail, pass, runResultOf } from "../session.ts";

/** How long the kit gives a processor to answer a Cancel: the client's own grace (docs/protocols.md#theoryrunv1). */
export const CANCEL_GRACE_MS = 5000;

export const WS_SESSION_CHECKS: readonly Check[] = [
  {
    name: "ws.subprotocol",
    rule: `the WebSocket /run agrees to ${RUN_SUBPROTOCOL} and refuses a handshake without it (400)`,
    async run(session) {
      const talk = await session.runWs(session.payload(session.runId("subprotocol")));
      if (talk.protocol !== RUN_SUBPROTOCOL)
        return fail("the processor did not agree to the subprotocol", {
          observed: talk.protocol || "(none)",
          expected: RUN_SUBPROTOCOL,
        });
      const refused = await session.converse([], { protocols: ["other.v1"], timeoutMs: 5000 }).then(
        (other) => `accepted (agreed to ${JSON.stringify(other.protocol)})`,
        (error: Error) => error.message,
      );
      if (!/Unexpected server response: 400/.test(refused))
        return fail("a handshake offering only another subprotocol was not refused with 400", {
          observed: refused,
          expected: "Unexpected server response: 400",
        });
      return pass(`agreed to ${RUN_SUBPROTOCOL}; another subprotocol refused with 400`);
    },
  },
  {
    name: "ws.ack-first",
    rule: "the first frame after RunOpen is Ack naming the run_id",
    async run(session) {
      const runId = session.runId("ack");
      const talk = await session.runWs(session.payload(runId));
      const first = talk.frames[0];
      if (first?.kind !== "Ack" || first.content?.run_id !== runId)
        return fail("the first frame is not Ack naming the run", {
          observed: talk.texts[0] ?? "(no frame)",
          expected: `{"content":{"run_id":"${runId}"},"kind":"Ack"}`,
        });
      return pass("Ack came first and named the run");
    },
  },
  {
    name: "ws.known-frames",
    rule: "every frame is a known, well-formed processor frame (Ack, Token, Event, Log, RunResult), text only",
    async run(session) {
      const talk = await session.runWs(session.payload(session.runId("frames")));
      const bad = talk.frames.findIndex((frame) => !ProcessorFrameSchema.safeParse(frame).success);
      if (bad !== -1)
        return fail(`frame ${bad + 1} is not a theory.run.v1 processor frame`, {
          observed: (talk.texts[bad] ?? "").slice(0, 200),
          expected: "Ack | Token | Event | Log | RunResult, {kind, content} and nothing else",
        });
      if (talk.binary > 0)
        return fail(`${talk.binary} binary message(s)`, { observed: talk.binary, expected: 0 });
      return pass(`${talk.frames.length} frames, all known`, describeTalk(talk));
    },
  },
  {
    name: "ws.one-run-result",
    rule: "exactly one RunResult, and it is the last frame",
    async run(session) {
      const talk = await session.runWs(session.payload(session.runId("result")));
      const results = talk.frames.filter((frame) => frame.kind === "RunResult").length;
      if (results !== 1 || talk.frames.at(-1)?.kind !== "RunResult")
        return fail(`${results} RunResult frame(s)${results === 1 ? ", not last" : ""}`, {
          observed: describeTalk(talk),
          expected: "Ack, progress frames, one RunResult last",
        });
      return pass("one RunResult, last", describeTalk(talk));
    },
  },
  {
    name: "ws.close-1000",
    rule: "the processor closes with 1000 after its RunResult",
    async run(session) {
      const talk = await session.runWs(session.payload(session.runId("close")), { timeoutMs: 10_000 });
      if (talk.code !== 1000)
        return fail(talk.timedOut ? "no close within 10 s" : `closed with ${talk.code}`, {
          observed: describeTalk(talk),
          expected: { close: 1000 },
        });
      return pass("closed 1000");
    },
  },
  {
    name: "ws.invalid-inputs",
    rule: "a RunOpen naming its run with invalid inputs is answered: Ack, an ERR_INPUTS RunResult, close 1000",
    async run(session) {
      const runId = session.runId("invalid");
      const inputs = sampleInputs(session.target.tool).invalid;
      const talk = await session.runWs(session.payload(runId, { inputs }));
      const kinds = talk.frames.map((frame) => frame.kind).join(",");
      const result = runResultOf(talk)?.envelope;
      if (
        kinds !== "Ack,RunResult" ||
        talk.code !== 1000 ||
        result?.error?.code !== "ERR_INPUTS" ||
        result.run_id !== runId
      )
        return fail("not answered with Ack and an ERR_INPUTS RunResult naming the run, then 1000", {
          observed: { ...describeTalk(talk), error: result?.error },
          expected: { frames: ["Ack", "RunResult"], close: 1000, error: { code: "ERR_INPUTS" } },
        });
      return pass(`ERR_INPUTS: ${result.error.message}`);
    },
  },
  {
    name: "ws.cancel",
    rule: `Cancel during a run is answered with an ERR_CANCELED RunResult within ${CANCEL_GRACE_MS / 1000} s, then 1000`,
    async run(session) {
      const samples = sampleInputs(session.target.tool);
      const runId = session.runId("cancel");
      let canceledAt = 0;
      let answeredAt = 0;
      let seen = 0;
      let seenAtCancel = 0;
      let grace: NodeJS.Timeout | undefined;
      // A tool that can stream long is canceled at its first progress frame; any other right after Ack.
      const cancelAfter = samples.long ? "progress" : "Ack";
      const talk = await session.runWs(session.payload(runId, { inputs: samples.long ?? samples.sample }), {
        onFrame: (frame, socket) => {
          seen += 1;
          if (frame.kind === "RunResult") answeredAt = Date.now();
          const due =
            cancelAfter === "Ack" ? frame.kind === "Ack" : frame.kind !== "Ack" && frame.kind !== "RunResult";
          if (canceledAt !== 0 || !due) return;
          canceledAt = Date.now();
          seenAtCancel = seen;
          socket.send(JSON.stringify(CANCEL));
          grace = setTimeout(() => socket.terminate(), CANCEL_GRACE_MS);
        },
      });
      clearTimeout(grace);
      const result = runResultOf(talk)?.envelope;
      const observed = {
        ...describeTalk(talk),
        error: result?.error,
        frames_after_cancel: seen - seenAtCancel,
        ...(answeredAt && canceledAt ? { answered_ms: answeredAt - canceledAt } : {}),
      };
      if (canceledAt === 0)
        return fail(`the run never sent a frame after which to Cancel (${cancelAfter})`, { observed });
      if (result?.status === "success" && !samples.long)
        return pass(
          "the run finished before its Cancel was read; its result stands (docs/protocols.md#theoryrunv1)",
          observed,
        );
      if (result?.error?.code !== "ERR_CANCELED" || talk.code !== 1000)
        return fail(
          answeredAt === 0
            ? `no RunResult within ${CANCEL_GRACE_MS / 1000} s of Cancel`
            : "not ERR_CANCELED then 1000",
          { observed, expected: { error: { code: "ERR_CANCELED" }, close: 1000 } },
        );
      return pass(
        `ERR_CANCELED ${answeredAt - canceledAt} ms and ${seen - seenAtCancel - 1} frame(s) after Cancel`,
        observed,
      );
    },
  },
];
