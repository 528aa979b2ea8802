import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { RunRequestSchema } from "../../contract/api.ts";
import { ciHookRoute } from "../../contract/routes.ts";
import { hexToBytes, sha256Hex } from "../../core/canonical.ts";
import { TheoryError } from "../../core/errors.ts";
import { jsonProblem } from "../../core/json.ts";
import { describeIssues } from "../../core/validation.ts";
import type { HookSource } from "../config.ts";
import { webhookLedger } from "../objects.ts";
import type { AppEnv } from "./context.ts";
import { mount } from "./mount.ts";
import { startRun } from "./runs.ts";

/** Standard Webhooks refuses timestamps outside 5 minutes; ids are kept well past that. */
const STANDARD_REPLAY_TTL_MS = 10 * 60 * 1000;
/** GitHub signs no timestamp: a delivery id is refused again for this long. */
const GITHUB_REPLAY_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const unauthorized = (why: string) => new TheoryError("ERR_AUTH", why);

interface Verified {
  source: string;
  webhookId: string;
  ttlMs: number;
  payload: unknown;
}

function verifyStandard(c: Context<AppEnv>, body: string, sources: readonly HookSource[]): Verified {
  const headers = {
    "webhook-id": c.req.header("webhook-id") ?? "",
    "webhook-timestamp": c.req.header("webhook-timestamp") ?? "",
    "webhook-signature": c.req.header("webhook-signature") ?? "",
  };
  if (!headers["webhook-id"] || !headers["webhook-timestamp"] || !headers["webhook-signature"]) {
    throw unauthorized("webhook-id, webhook-timestamp and webhook-signature are required");
  }
  for (const source of sources.filter((candidate) => candidate.kind === "standard")) {
    try {
      const payload = new Webhook(source.secret).verify(body, headers);
      return {
        source: source.name,
        webhookId: headers["webhook-id"],
        ttlMs: STANDARD_REPLAY_TTL_MS,
        payload,
      };
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      if (/timestamp/i.test(error.message))
        throw unauthorized("webhook-timestamp is outside the 5-minute window");
    }
  }
  throw unauthorized("webhook signature does not verify");
}

async function verifyGithub(
  c: Context<AppEnv>,
  body: string,
  sources: readonly HookSource[],
): Promise<Verified> {
  const signature = /^sha256=([a-f0-9]{64})$/.exec(c.req.header("X-Hub-Signature-256") ?? "")?.[1];
  const delivery = c.req.header("X-GitHub-Delivery");
  if (!signature || !delivery)
    throw unauthorized("X-Hub-Signature-256 (sha256=…) and X-GitHub-Delivery are required");
  for (const source of sources.filter((candidate) => candidate.kind === "github")) {
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(source.secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const expected = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
    if (crypto.subtle.timingSafeEqual(expected, hexToBytes(signature))) {
      return {
        source: source.name,
        webhookId: delivery,
        ttlMs: GITHUB_REPLAY_TTL_MS,
        payload: JSON.parse(body),
      };
    }
  }
  throw unauthorized("webhook signature does not verify");
}

/**
 * GitHub payloads carry the run request by a fixed rule: `repository_dispatch` puts it in
 * `client_payload`; a `workflow_dispatch`-style body puts it in `inputs`, whose values are strings
 * (so `inputs.inputs` is the tool inputs as JSON text and `inputs.timeout_s` a number as text).
 */
export function runRequestFromGithub(payload: unknown): unknown {
  const body = (payload ?? {}) as { client_payload?: unknown; inputs?: Record<string, unknown> };
  if (body.client_payload !== undefined) return body.client_payload;
  if (body.inputs && typeof body.inputs === "object") {
    const { inputs, timeout_s, ...rest } = body.inputs;
    let toolInputs: unknown = inputs;
    if (typeof inputs === "string") {
      try {
        toolInputs = JSON.parse(inputs);
      } catch {
        throw new TheoryError("ERR_INPUTS", "inputs.inputs is not JSON", { status: 422 });
      }
    }
    return {
      ...rest,
      inputs: toolInputs,
      ...(timeout_s === undefined ? {} : { timeout_s: Number(timeout_s) }),
    };
  }
  throw new TheoryError("ERR_INPUTS", "a GitHub payload needs client_payload or inputs", { status: 422 });
}

/**
 * POST /v1/hooks/ci: a signed run request from CI. Signature and window are checked before anything
 * else (401), then the request (4xx, leaving no trace). A delivery already accepted is answered
 * with the run it started, so a CI retry succeeds; the run id derives from the webhook id, so no
 * delivery ever starts a second run.
 */
export function mountHooks(app: OpenAPIHono<AppEnv>): void {
  mount(app, ciHookRoute, async (c) => {
    const { config } = c.var.runtime;
    const body = await c.req.text();
    const github = c.req.header("X-Hub-Signature-256") !== undefined;
    const verified = github
      ? await verifyGithub(c, body, config.hookSources)
      : verifyStandard(c, body, config.hookSources);
    const candidate = github ? runRequestFromGithub(verified.payload) : verified.payload;
    // A GitHub request's inputs were JSON text inside the body: held to the body's limits here.
    const problem = jsonProblem(candidate);
    if (problem) throw new TheoryError("ERR_INPUTS", `run request: ${problem}`, { status: 422 });
    const parsed = RunRequestSchema.safeParse(candidate);
    if (!parsed.success) throw new TheoryError("ERR_INPUTS", describeIssues(parsed.error), { status: 422 });
    const delivery = `${verified.source}:${verified.webhookId}`;
    const ledger = webhookLedger(c.env, delivery);
    const accepted = await ledger.runOf(delivery);
    if (accepted) {
      // The same request again is its run (with Prefer: wait honoured); another one is ERR_CONFLICT.
      return startRun(c, { ...parsed.data, run_id: accepted }, { existingOnly: true });
    }
    const runId = parsed.data.run_id ?? `hook-${(await sha256Hex(delivery)).slice(0, 32)}`;
    const response = await startRun(c, { ...parsed.data, run_id: runId });
    // Remembered only once the run exists: a delivery the control plane refused leaves no trace.
    if (response.ok) {
      await ledger.accept(delivery, runId, verified.ttlMs);
      c.var.runtime.log.info("hook.accepted", { source: verified.source, execution_id: runId });
    }
    return response;
  });
}
