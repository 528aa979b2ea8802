// /healthz and the legacy HTTP routes, POST /run and POST /run-stream (docs/contract.md#the-processor-image).
import { ApiErrorSchema } from "../../../src/contract/envelope.ts";
import { MAX_FRAME_BYTES, ProcessorFrameSchema } from "../../../src/contract/frames.ts";
import { readSse, type SseEvent } from "../../../src/core/sse-reader.ts";
import { localPrefixOf, parseEnvelope, successProblems } from "../envelope.ts";
import { sampleInputs } from "../fixtures.ts";
import { type Check, type CheckOutcome, fail, type KitSession, pass } from "../session.ts";

/** A check that POSTs something wrong to /run and expects `status` with an ERR_INPUTS error body. */
function refusedWith(
  name: string,
  rule: string,
  status: number,
  request: (session: KitSession) => { body: unknown; headers?: Record<string, string> },
): Check {
  return {
    name,
    rule,
    async run(session) {
      const { body, headers } = request(session);
      const answer = await session.post("/run", body, headers);
      const parsed = parseJson(answer.text);
      const error = ApiErrorSchema.safeParse(parsed);
      if (answer.status !== status || !error.success || error.data.error.code !== "ERR_INPUTS")
        return fail(
          answer.status !== status
            ? `answered ${answer.status}, not ${status}`
            : "the body is not an ERR_INPUTS error",
          {
            observed: { status: answer.status, body: answer.text.slice(0, 200) },
            expected: { status, body: '{"error":{"code":"ERR_INPUTS",…},"status":"error",…}' },
          },
        );
      return pass(`${status} ERR_INPUTS: ${error.data.error.message}`);
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function runStream(
  session: KitSession,
  payload: object,
): Promise<{ status: number; type: string; events: SseEvent[] }> {
  const response = await fetch(session.httpUrl("/run-stream"), {
    method: "POST",
    headers: { "content-type": "application/json", ...session.authHeaders },
    body: JSON.stringify(payload),
  });
  const events: SseEvent[] = [];
  if (response.body) for await (const event of readSse(response.body)) events.push(event);
  return { status: response.status, type: response.headers.get("content-type") ?? "", events };
}

/** The problems of an SSE answer: 200, text/event-stream, `progress` frames, then one `done` last. */
export async function runStreamOutcome(
  session: KitSession,
  runId: string,
): Promise<CheckOutcome & { done?: string }> {
  const payload = session.payload(runId);
  const { status, type, events } = await runStream(session, payload);
  const kinds = events.map((event) => event.event);
  const observed = {
    status,
    content_type: type,
    events: kinds.length > 12 ? [...kinds.slice(0, 10), "…", kinds.at(-1)] : kinds,
  };
  if (status !== 200 || type.split(";")[0]?.trim() !== "text/event-stream")
    return fail(`answered ${status} ${type}, not 200 text/event-stream`, { observed });
  const doneAt = kinds.indexOf("done");
  if (doneAt !== kinds.length - 1 || kinds.slice(0, -1).some((kind) => kind !== "progress"))
    return fail("not progress events then one done, last", { observed, expected: "progress ×n, done" });
  const bad = events
    .slice(0, -1)
    .find((event) => !ProcessorFrameSchema.safeParse(parseJson(event.data)).success);
  if (bad) return fail("a progress event is not a processor frame", { observed: bad.data.slice(0, 200) });
  const done = (events.at(-1) as SseEvent).data;
  const { problems } = successProblems(session, done, {
    runId,
    runPrefix: localPrefixOf(payload.write_prefix as string),
  });
  if (problems.length > 0) return fail(`done: ${problems.join("; ")}`, { observed: done.slice(0, 300) });
  return { ...pass(`${kinds.length - 1} progress event(s), then done with the envelope`), done };
}

export const HTTP_CHECKS: readonly Check[] = [
  {
    name: "healthz",
    rule: 'GET /healthz answers 200 {"ok":true}',
    async run(session) {
      const response = await fetch(session.httpUrl("/healthz"));
      const text = await response.text();
      const body = parseJson(text) as { ok?: unknown } | undefined;
      if (response.status !== 200 || body?.ok !== true || Object.keys(body).length !== 1)
        return fail(`answered ${response.status} ${text.slice(0, 80)}`, {
          observed: { status: response.status, body: text.slice(0, 200) },
          expected: { status: 200, body: '{"ok":true}' },
        });
      return pass('200 {"ok":true}');
    },
  },
  refusedWith(
    "http.wrong-content-type",
    "POST /run with another content type answers 415 ERR_INPUTS",
    415,
    (session) => ({
      body: JSON.stringify(session.payload(session.runId("type"))),
      headers: { "content-type": "text/plain" },
    }),
  ),
  refusedWith(
    "http.malformed-json",
    "POST /run with a body that is not JSON answers 400 ERR_INPUTS",
    400,
    () => ({
      body: '{"run_id":',
    }),
  ),
  refusedWith(
    "http.too-large",
    "POST /run with a body over 1 MiB answers 413 ERR_INPUTS",
    413,
    (session) => ({
      body: session.payload(session.runId("big"), { padding: "x".repeat(MAX_FRAME_BYTES + 10) }),
    }),
  ),
  refusedWith(
    "http.no-run-id",
    "POST /run with a payload without a readable run_id answers 422 ERR_INPUTS",
    422,
    (session) => ({
      body: { mode: "mock", inputs: sampleInputs(session.target.tool).sample },
    }),
  ),
  {
    name: "http.invalid-inputs",
    rule: "POST /run with invalid inputs and a readable run_id answers 200 with an ERR_INPUTS envelope naming the run",
    async run(session) {
      const runId = session.runId("http-invalid");
      const answer = await session.post(
        "/run",
        session.payload(runId, { inputs: sampleInputs(session.target.tool).invalid }),
      );
      const parsed = parseEnvelope(answer.text);
      const envelope = parsed.ok ? parsed.envelope : undefined;
      if (
        answer.status !== 200 ||
        envelope?.status !== "error" ||
        envelope.error.code !== "ERR_INPUTS" ||
        envelope.run_id !== runId
      )
        return fail(`answered ${answer.status} ${parsed.ok ? "" : parsed.problem}`.trim(), {
          observed: { status: answer.status, body: answer.text.slice(0, 300) },
          expected: {
            status: 200,
            envelope: { status: "error", run_id: runId, error: { code: "ERR_INPUTS" } },
          },
        });
      return pass(`200 ERR_INPUTS: ${envelope.error.message}`);
    },
  },
  {
    name: "http.run",
    rule: "POST /run answers 200 with the run's success envelope",
    async run(session) {
      const runId = session.runId("http");
      const payload = session.payload(runId);
      const answer = await session.post("/run", payload);
      const { problems } = successProblems(session, answer.text, {
        runId,
        runPrefix: localPrefixOf(payload.write_prefix as string),
      });
      if (answer.status !== 200 || problems.length > 0)
        return fail(
          [answer.status === 200 ? "" : `answered ${answer.status}`, ...problems].filter(Boolean).join("; "),
          {
            observed: { status: answer.status, body: answer.text.slice(0, 300) },
          },
        );
      return pass("200 with a success envelope");
    },
  },
  {
    name: "http.run-stream",
    rule: "POST /run-stream answers server-sent progress events, then done with the envelope",
    run: (session) => runStreamOutcome(session, session.runId("sse")),
  },
];
