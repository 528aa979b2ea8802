// The same request gives the same envelope, whatever carries it (docs/contract.md#determinism-and-supply-chain).
import { envelopeModuloRun, envelopeTextOf, localPrefixOf } from "../envelope.ts";
import { type Check, fail, type KitSession, pass, runResultOf } from "../session.ts";
import { runStreamOutcome } from "./http.ts";

/** How many randomized run_ids and write_prefixes the determinism check tries. */
export const RANDOMIZED_RUNS = 5;

/** The envelope text a WebSocket run answers with (its RunResult frame's content, as sent). */
async function wsEnvelope(session: KitSession, payload: object): Promise<string | undefined> {
  const text = runResultOf(await session.runWs(payload))?.text;
  return text === undefined ? undefined : envelopeTextOf(text);
}

/** Where two texts first differ, for a message. */
function firstDifference(a: string, b: string): string {
  let at = 0;
  while (at < a.length && a[at] === b[at]) at += 1;
  return `from byte ${at}: ${JSON.stringify(a.slice(at, at + 40))} vs ${JSON.stringify(b.slice(at, at + 40))}`;
}

export const DETERMINISM_CHECKS: readonly Check[] = [
  {
    name: "determinism.repeat",
    rule: "the same payload twice gives the same envelope bytes",
    async run(session) {
      const payload = session.payload(session.runId("repeat"));
      const first = (await session.post("/run", payload)).text;
      const second = (await session.post("/run", payload)).text;
      if (first !== second)
        return fail(`two runs of one payload differ ${firstDifference(first, second)}`, {
          observed: second.slice(0, 300),
          expected: first.slice(0, 300),
        });
      return pass("identical bytes");
    },
  },
  {
    name: "determinism.randomized",
    rule: `${RANDOMIZED_RUNS} randomized run_ids and write_prefixes give envelopes equal but for the run_id and paths`,
    async run(session) {
      const referenceId = session.runId("reference");
      const reference = session.payload(referenceId);
      const referenceText = await wsEnvelope(session, reference);
      if (referenceText === undefined) return fail("no RunResult for the reference run");
      const expected = envelopeModuloRun(
        referenceText,
        referenceId,
        localPrefixOf(reference.write_prefix as string),
      );
      const tried: string[] = [];
      for (let i = 0; i < RANDOMIZED_RUNS; i++) {
        const runId = `R${session.random(3)}-${session.random(2)}_${i}`;
        const writePrefix = `${session.scratchPrefix}${session.random(2)}/${session.random(3)}/${runId}/`;
        tried.push(`${runId} at ${writePrefix}`);
        const text = await wsEnvelope(session, session.payload(runId, { write_prefix: writePrefix }));
        const observed =
          text === undefined ? "(no RunResult)" : envelopeModuloRun(text, runId, localPrefixOf(writePrefix));
        if (observed !== expected)
          return fail(`run ${runId} at ${writePrefix} differs ${firstDifference(observed, expected)}`, {
            observed,
            expected,
          });
      }
      return pass(`${RANDOMIZED_RUNS} runs equal modulo run_id and paths`, tried);
    },
  },
  {
    name: "parity.transports",
    rule: "WebSocket, HTTP /run and /run-stream give the same envelope bytes for the same payload",
    async run(session) {
      const runId = session.runId("parity");
      const payload = session.payload(runId);
      const overWs = await wsEnvelope(session, payload);
      const overHttp = (await session.post("/run", payload)).text;
      const streamed = await runStreamOutcome(session, runId);
      if (overWs !== overHttp)
        return fail(`WebSocket and HTTP /run differ ${firstDifference(overWs ?? "", overHttp)}`, {
          observed: overWs,
          expected: overHttp,
        });
      if (streamed.done !== undefined && streamed.done !== overHttp)
        return fail(`/run-stream's done and /run differ ${firstDifference(streamed.done, overHttp)}`, {
          observed: streamed.done,
          expected: overHttp,
        });
      return pass(
        streamed.done === undefined
          ? "WebSocket equals HTTP /run (/run-stream answered no done)"
          : "the same bytes on all three",
      );
    },
  },
];
