import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ApiErrorSchema } from "../../src/contract/envelope.ts";
import { allowedHttpStatuses } from "../../src/contract/errors.ts";
import { TEST_TOKENS } from "../support/tokens.ts";
import { signedHook } from "./hook-signing.ts";
import { api, runRequest } from "./support.ts";

// Hostile requests against the Worker in workerd, driven by fast-check (bounded, in process, no
// network but the loopback test peers): every answer stays inside the contract. No 5xx, and every
// error body is an error envelope with a stable ERR_* code, a status that code may carry, and a
// message of our own (never a validator's raw output).

/** How many requests each property sends: bounded so the suite stays fast in CI. */
const RUNS = 120;

/** Header values: anything a client can put on the wire (printable ASCII), plus the interesting ones. */
const headerText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
});

const pathSegment = fc.oneof(
  fc.constantFrom(
    "x",
    "run-1",
    "llm",
    "litellm@1",
    "echo",
    "text@1",
    "..",
    ".",
    "%",
    "%E0%A4%A",
    "%2F",
    "%00",
  ),
  fc.stringMatching(/^[A-Za-z0-9._~%@-]{1,40}$/),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);

const route = fc.oneof(
  fc.constant({ method: "POST", path: "/v1/runs" }),
  fc.tuple(pathSegment, fc.constantFrom("", "/envelope", "/receipt", "/events")).map(([id, tail]) => ({
    method: "GET",
    path: `/v1/runs/${id}${tail}`,
  })),
  pathSegment.map((id) => ({ method: "POST", path: `/v1/runs/${id}/cancel` })),
  fc.tuple(fc.constantFrom("PUT", "GET", "DELETE"), pathSegment, pathSegment).map(([method, ns, name]) => ({
    method,
    path: `/v1/endpoints/${ns}/${name}`,
  })),
  fc.constantFrom(
    { method: "GET", path: "/v1/agents" },
    { method: "GET", path: "/v1/agents/connect" },
    { method: "POST", path: "/v1/hooks/ci" },
    { method: "PATCH", path: "/v1/runs" },
    { method: "GET", path: "/v1" },
  ),
  fc
    .array(pathSegment, { maxLength: 4 })
    .map((segments) => ({ method: "GET", path: `/v1/${segments.join("/")}` })),
);

/** JSON text a parser accepts but the contract may not: huge numbers, lone surrogates, deep nesting. */
const nastyJson = fc.oneof(
  fc.constantFrom(
    "1e400",
    "-1e400",
    '"\\ud800"',
    '"\\udc00x"',
    "1e-400",
    "-0",
    "123456789012345678901234567890",
  ),
  fc.integer({ min: 1, max: 3000 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`),
  fc.jsonValue().map((value) => JSON.stringify(value)),
);

/** A run request with one field replaced by anything JSON can say, as text. */
const mutatedRunRequest = fc
  .tuple(
    fc.constantFrom(
      "ref",
      "run_id",
      "mode",
      "inputs",
      "target",
      "agent",
      "artifact_scope",
      "write_prefix",
      "expected_oci",
      "timeout_s",
      "webhook",
      "extra",
    ),
    nastyJson,
  )
  .map(([field, raw]) => {
    const base = { ...runRequest("fuzz"), target: "local", agent: "fuzz-box", __FIELD__: null } as Record<
      string,
      unknown
    >;
    delete base.run_id;
    return JSON.stringify(base).replace(`"__FIELD__":null`, `${JSON.stringify(field)}:${raw}`);
  });

const body = fc.oneof(
  mutatedRunRequest,
  nastyJson,
  fc.string({ maxLength: 200 }),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.constantFrom("", "{", "null", "[]", "{}", '{"url":"http://127.0.0.1:1","image_digest":"sha256:x"}'),
);

const headers = fc.record(
  {
    "Content-Type": fc.oneof(
      fc.constantFrom(
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "",
      ),
      headerText,
    ),
    Authorization: fc.oneof(
      fc.constantFrom(
        `Bearer ${TEST_TOKENS.admin.value}`,
        `Bearer ${TEST_TOKENS.reader.value}`,
        `Bearer ${TEST_TOKENS.agent.value}`,
        "Bearer",
        "Basic abc",
      ),
      headerText.map((text) => `Bearer ${text}`),
    ),
    Prefer: fc.oneof(
      fc.constantFrom("wait=0", "wait=99999999999999999999999", "wait=-1", "wait=1.5"),
      headerText,
    ),
    "Last-Event-ID": fc.oneof(fc.constantFrom("0", "-1", "1e400", "99999999999999999999"), headerText),
    "If-None-Match": headerText,
    "webhook-id": headerText,
    "webhook-timestamp": fc.oneof(fc.integer().map(String), headerText),
    "webhook-signature": fc.oneof(fc.constant("v1,AAAA"), headerText),
    "X-Hub-Signature-256": fc.oneof(fc.constant(`sha256=${"0".repeat(64)}`), headerText),
    "X-GitHub-Delivery": headerText,
  },
  { requiredKeys: [] },
);

/** The checks every answer must pass; returns the status for the caller's own checks. */
async function expectInContract(response: Response, what: string): Promise<number> {
  const status = response.status;
  const text = await response.text();
  expect(status, `${what} -> ${status} ${text.slice(0, 300)}`).toBeLessThan(500);
  if (status < 400) return status;
  const parsed = ApiErrorSchema.safeParse(JSON.parse(text));
  expect(parsed.success, `${what}: not an error envelope: ${text.slice(0, 300)}`).toBe(true);
  if (!parsed.success) return status;
  const { code, message } = parsed.data.error;
  expect(allowedHttpStatuses(code), `${what}: ${code} with ${status}`).toContain(status);
  // A validator's raw output is a JSON dump of its issues; ours names fields in words.
  expect(message, what).not.toMatch(/"(code|path|expected)"\s*:/);
  expect(message.trimStart().startsWith("["), what).toBe(false);
  return status;
}

describe("the API under fuzzed requests stays inside its contract", () => {
  it("any route, headers and body: no 5xx, every error an envelope with an allowed status", async () => {
    await fc.assert(
      fc.asyncProperty(route, headers, body, async ({ method, path }, sent, text) => {
        const init: RequestInit & { token: null } = { method, headers: sent, token: null };
        if (method === "POST" || method === "PUT" || method === "PATCH") init.body = text;
        const response = await api(path, init);
        // The WebSocket upgrade is never offered here, so a 101 would be a fault too.
        expect(response.status).not.toBe(101);
        await expectInContract(response, `${method} ${path}`);
      }),
      { numRuns: RUNS },
    );
  });

  it("POST /v1/runs with a valid token and fuzzed bodies: a run or a 4xx naming the problem", async () => {
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const response = await api("/v1/runs", {
          method: "POST",
          body: text,
          headers: { "Content-Type": "application/json" },
        });
        const status = await expectInContract(response, `POST /v1/runs ${text.slice(0, 80)}`);
        expect([202, 400, 413, 415, 422]).toContain(status);
      }),
      { numRuns: RUNS },
    );
  });

  it("signed CI hooks with fuzzed bodies: a run or a 4xx, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const status = await expectInContract(await signedHook(text).post(), `hook ${text.slice(0, 80)}`);
        expect([202, 400, 409, 413, 415, 422]).toContain(status);
      }),
      { numRuns: RUNS },
    );
  });
});
