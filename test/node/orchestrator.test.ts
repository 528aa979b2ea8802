import { readFileSync } from "node:fs";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeConnect } from "../../agent/direct-run/node-socket.ts";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import type { RunRequest } from "../../src/contract/api.ts";
import { EnvelopeSchema } from "../../src/contract/envelope.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { newProcessorToken } from "../../src/core/processor-auth.ts";
import { parseToolRegistry } from "../../src/core/tool-registry.ts";
import { endpointTransport } from "../../src/engine/endpoint-transport.ts";
import { executeRun, type RunHooks } from "../../src/engine/orchestrator.ts";
import { planRun } from "../../src/engine/run-plan.ts";
import { DIGEST_A, DIGEST_B } from "../support/examples.ts";
import { postJson, type RunningProcessor, startProcessor } from "../support/processor.ts";
import { startRogueProcessor } from "../support/rogue-processor.ts";
import { type LocalS3, startS3 } from "../support/s3.ts";

const registry = parseToolRegistry(readFileSync(join(import.meta.dirname, "../../registry.yaml"), "utf8"));
/** The digest the endpoint is registered with in these runs (a processor's own envelope says DIGEST_A). */
const REGISTERED_DIGEST = `sha256:${"e".repeat(64)}`;
const FAST_HEALTH = { initialMs: 20, maxMs: 80, factor: 2, jitter: 0, totalMs: 200 };

let llm: RunningProcessor;
let s3: LocalS3;
beforeAll(async () => {
  llm = await startProcessor({ toolRef: "llm/litellm@1" });
  s3 = await startS3();
});
afterAll(async () => {
  await llm.close();
  await s3.close();
});

const request = (runId: string, extra: Partial<RunRequest> = {}): RunRequest & { run_id: string } => ({
  ref: "llm/litellm@1",
  run_id: runId,
  mode: "mock",
  inputs: llmInputs("hi", { max_tokens: 4 }),
  target: "modal",
  artifact_scope: "local",
  ...extra,
});

async function run(
  runId: string,
  url: string | null,
  options: {
    extra?: Partial<RunRequest>;
    signal?: AbortSignal;
    hooks?: RunHooks;
    token?: string;
    fetch?: typeof fetch;
    health?: typeof FAST_HEALTH;
  } = {},
) {
  const plan = await planRun(request(runId, options.extra), {
    toolRegistry: registry,
    worldId: "w1",
    platform: "amd64",
    presignPut: (key) => s3.presignPut(key),
  });
  const transport = endpointTransport({
    resolve: async () =>
      url ? { url, token: options.token ?? llm.token, image_digest: REGISTERED_DIGEST } : null,
    connect: nodeConnect,
    fetch: options.fetch ?? fetch,
    health: options.health ?? FAST_HEALTH,
  });
  return executeRun(plan, transport, options.signal ?? new AbortController().signal, {
    sleep: async () => {},
    ...options.hooks,
  });
}

describe("orchestrator against the real processor", () => {
  it("settles a canonical envelope byte-identical to the processor's own, counting frames", async () => {
    const seen: string[] = [];
    const record = await run("orc-1", llm.http, { hooks: { onFrame: (frame) => seen.push(frame.kind) } });
    expect(record.envelope.status).toBe("success");
    const direct = await postJson(`${llm.http}/run`, {
      run_id: "orc-1",
      mode: "mock",
      inputs: llmInputs("hi", { max_tokens: 4 }),
      write_prefix: "/artifacts/outputs/llm.litellm.1/orc-1/",
      settle: "fast",
    });
    expect(record.text).toBe(direct.text);
    expect(seen).toEqual(["Ack", "Token", "Token", "Token", "Token", "RunResult"]);
    expect(record.frames).toMatchObject({ total: 6, tokens: 4 });
    expect(record.attempts).toEqual([expect.objectContaining({ acked: true, outcome: "success" })]);
    expect(record.sha256).toMatch(/^[a-f0-9]{64}$/);
  });

  it("expected digest equal -> success; different -> ERR_REGISTRY_MISMATCH carrying the digest that ran", async () => {
    expect(
      (await run("orc-2", llm.http, { extra: { expected_oci: `r/p@${DIGEST_A}` } })).envelope.status,
    ).toBe("success");
    const drift = await run("orc-3", llm.http, { extra: { expected_oci: `r/p@${DIGEST_B}` } });
    expect(drift.envelope).toMatchObject({
      status: "error",
      error: { code: "ERR_REGISTRY_MISMATCH" },
      meta: { image_digest: DIGEST_A },
    });
    expect(drift.attempts).toHaveLength(1);
  });

  it("world scope: presigned PUTs land and the stored ETags prove the envelope", async () => {
    const record = await run("orc-w1", llm.http, {
      extra: { artifact_scope: "world" },
      hooks: { storedEtag: (key) => s3.etagOf(key).catch(() => null) },
    });
    expect(record.envelope).toMatchObject({
      status: "success",
      index_path: "world://w1/orc-w1/outputs.json",
    });
  });

  it("world scope: a stored ETag that differs from the envelope fails closed", async () => {
    const record = await run("orc-w2", llm.http, {
      extra: { artifact_scope: "world" },
      hooks: { storedEtag: async () => "0".repeat(32) },
    });
    expect(record.envelope).toMatchObject({
      status: "error",
      error: { code: "ERR_INTERNAL", message: expect.stringContaining("proof failed") },
    });
  });

  it("cancel: Cancel frame, then the processor's ERR_CANCELED envelope", async () => {
    const controller = new AbortController();
    const record = await run("orc-c", llm.http, {
      extra: { inputs: llmInputs("x", { max_tokens: 100_000 }) },
      signal: controller.signal,
      hooks: {
        onFrame: (frame) =>
          frame.kind === "Token" && controller.abort(new TheoryError("ERR_CANCELED", "canceled on request")),
      },
    });
    expect(record.envelope).toMatchObject({
      status: "error",
      error: { code: "ERR_CANCELED", message: "the run was canceled" },
    });
  });

  it("timeout: ERR_WS_TIMEOUT within the budget", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new TheoryError("ERR_WS_TIMEOUT", "run exceeded its budget")), 50);
    const record = await run("orc-t", llm.http, {
      extra: { inputs: llmInputs("x", { max_tokens: 100_000 }) },
      signal: controller.signal,
    });
    expect(record.envelope).toMatchObject({ status: "error", error: { code: "ERR_WS_TIMEOUT" } });
    expect(record.attempts).toEqual([expect.objectContaining({ acked: true, outcome: "ERR_WS_TIMEOUT" })]);
  });
});

describe("orchestrator failure mapping", () => {
  it("no endpoint -> ERR_ENDPOINT_MISSING after the bounded retry", async () => {
    const record = await run("orc-e1", null);
    expect(record.envelope).toMatchObject({
      error: { code: "ERR_ENDPOINT_MISSING" },
      meta: { env_fingerprint: "cpu:1;memory:2Gi" },
    });
    expect(record.attempts).toHaveLength(2);
    expect(EnvelopeSchema.parse(record.envelope).status).toBe("error");
  });

  it("a processor that refuses the token -> ERR_AUTH: healthy, so the handshake's refusal decides; no second attempt", async () => {
    let healthPolls = 0;
    const record = await run("orc-auth", llm.http, {
      token: newProcessorToken(),
      fetch: (input, init) => {
        healthPolls++;
        return fetch(input, init);
      },
    });
    expect(record.envelope).toMatchObject({
      status: "error",
      error: { code: "ERR_AUTH", message: expect.stringContaining("401") },
    });
    expect(record.attempts).toHaveLength(1);
    expect(healthPolls).toBe(1);
  });

  it("unreachable -> ERR_ENDPOINT_MISSING; unhealthy -> ERR_HEALTH", async () => {
    expect((await run("orc-e2", "http://127.0.0.1:1")).envelope).toMatchObject({
      error: { code: "ERR_ENDPOINT_MISSING" },
    });
    const sick = await startRogueProcessor({ health: 503 });
    try {
      const record = await run("orc-e3", sick.url);
      expect(record.envelope).toMatchObject({
        error: { code: "ERR_HEALTH", message: expect.stringContaining("503") },
      });
      // Health already spent its own backoff budget: no second attempt on top.
      expect(record.attempts).toHaveLength(1);
    } finally {
      await sick.close();
    }
  });

  it.each([
    [
      "garbage after Ack",
      (socket: any, p: any) => {
        socket.send(JSON.stringify({ kind: "Ack", content: { run_id: p.run_id } }));
        socket.send("{{garbage");
      },
      "not JSON",
    ],
    [
      "an unknown frame kind",
      (socket: any, p: any) => {
        socket.send(JSON.stringify({ kind: "Ack", content: { run_id: p.run_id } }));
        socket.send(JSON.stringify({ kind: "Shout", content: {} }));
      },
      "unknown or malformed",
    ],
    [
      "a Token before Ack",
      (socket: any) => socket.send(JSON.stringify({ kind: "Token", content: { text: "x" } })),
      "before Ack",
    ],
    [
      "an Ack for another run",
      (socket: any) => socket.send(JSON.stringify({ kind: "Ack", content: { run_id: "other" } })),
      "another run",
    ],
    [
      "a close mid-run",
      (socket: any, p: any) => {
        socket.send(JSON.stringify({ kind: "Ack", content: { run_id: p.run_id } }));
        socket.close(1000);
      },
      "closed mid-run",
    ],
    [
      "an invalid envelope",
      (socket: any, p: any) => {
        socket.send(JSON.stringify({ kind: "Ack", content: { run_id: p.run_id } }));
        socket.send(JSON.stringify({ kind: "RunResult", content: { status: "success", run_id: p.run_id } }));
      },
      "malformed frame (content",
    ],
  ])("%s -> ERR_INTERNAL, never retried once acknowledged", async (_name, script, reason) => {
    const rogue = await startRogueProcessor({ script });
    try {
      const record = await run(`orc-r-${Math.random().toString(36).slice(2, 8)}`, rogue.url);
      expect(record.envelope).toMatchObject({
        status: "error",
        error: { code: "ERR_INTERNAL", message: expect.stringContaining(reason) },
      });
    } finally {
      await rogue.close();
    }
  });

  it("a processor whose fingerprint differs from the registry's is refused", async () => {
    const other = await startProcessor({
      toolRef: "llm/litellm@1",
      env: { ENV_FINGERPRINT: "cpu:8;memory:64Gi" },
    });
    try {
      expect((await run("orc-f", other.http)).envelope).toMatchObject({
        error: { code: "ERR_INTERNAL", message: expect.stringContaining("env_fingerprint") },
      });
    } finally {
      await other.close();
    }
  });
});

describe("the pre-Ack budget: reaching a processor that acknowledges fits the health budget", () => {
  const BUDGET_MS = 800;
  /** As the control plane runs: the health poll's budget is the whole pre-Ack budget. */
  const budgeted = (runId: string, url: string) => {
    const started = Date.now();
    return run(runId, url, {
      health: { ...FAST_HEALTH, totalMs: BUDGET_MS },
      hooks: { ackBudgetMs: BUDGET_MS, sleep: undefined },
    }).then((record) => ({ record, elapsed: Date.now() - started }));
  };

  it("an endpoint nothing answers costs one budget, not one per attempt", async () => {
    const { record, elapsed } = await budgeted("orc-b1", "http://127.0.0.1:1");
    expect(record.envelope).toMatchObject({ error: { code: "ERR_ENDPOINT_MISSING" } });
    expect(elapsed).toBeLessThan(BUDGET_MS + 500);
    expect(Date.parse(record.settledAt) - Date.parse(record.startedAt)).toBeLessThan(BUDGET_MS + 500);
  });

  it("an unhealthy endpoint still says so (ERR_HEALTH) within the budget", async () => {
    const sick = await startRogueProcessor({ health: 503 });
    try {
      const { record, elapsed } = await budgeted("orc-b2", sick.url);
      expect(record.envelope).toMatchObject({
        error: { code: "ERR_HEALTH", message: expect.stringContaining("503") },
      });
      expect(elapsed).toBeLessThan(BUDGET_MS + 500);
    } finally {
      await sick.close();
    }
  });

  it("a handshake that never completes is given up at the budget", async () => {
    // Accepts TCP connections and never answers a byte: a frozen process behind a live port.
    const sockets: Socket[] = [];
    const mute = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
    try {
      const { record, elapsed } = await budgeted(
        "orc-b3",
        `http://127.0.0.1:${(mute.address() as AddressInfo).port}`,
      );
      expect(record.envelope).toMatchObject({ error: { code: "ERR_ENDPOINT_MISSING" } });
      expect(elapsed).toBeLessThan(BUDGET_MS + 500);
    } finally {
      for (const socket of sockets) socket.destroy();
      mute.close();
    }
  });

  it("a processor that takes the session but never acknowledges is given up at the budget", async () => {
    const silent = await startRogueProcessor({ script: () => {} });
    try {
      const { record, elapsed } = await budgeted("orc-b4", silent.url);
      expect(record.envelope).toMatchObject({
        error: { code: "ERR_ENDPOINT_MISSING", message: expect.stringContaining("acknowledged") },
      });
      expect(elapsed).toBeLessThan(BUDGET_MS + 500);
      expect(record.attempts.every((attempt) => !attempt.acked)).toBe(true);
    } finally {
      await silent.close();
    }
  });

  it("an acknowledged run is not bound by it", async () => {
    const record = await run("orc-b5", llm.http, {
      extra: { inputs: llmInputs("slow", { max_tokens: 6, token_delay_ms: 100 }) },
      hooks: { ackBudgetMs: 200 },
    });
    expect(record.envelope.status).toBe("success");
  });
});

describe("a connection lost after Ack, and the control plane's own envelopes", () => {
  const ack = (socket: any, payload: any) =>
    socket.send(JSON.stringify({ kind: "Ack", content: { run_id: payload.run_id } }));

  it("a processor killed mid-run (1006: no close frame) -> ERR_ENDPOINT_MISSING, lost, never retried", async () => {
    const rogue = await startRogueProcessor({
      script: (socket, payload) => {
        ack(socket, payload);
        setTimeout(() => socket.terminate(), 20);
      },
    });
    try {
      const record = await run("orc-l1", rogue.url);
      expect(record.envelope).toMatchObject({
        error: {
          code: "ERR_ENDPOINT_MISSING",
          message: "the processor's connection was lost mid-run (1006)",
        },
        meta: { image_digest: REGISTERED_DIGEST },
      });
      expect(record.attempts).toEqual([
        expect.objectContaining({ acked: true, outcome: "ERR_ENDPOINT_MISSING" }),
      ]);
    } finally {
      await rogue.close();
    }
  });

  it("a processor that closes cleanly with any code and no result broke the protocol -> ERR_INTERNAL", async () => {
    const rogue = await startRogueProcessor({
      script: (socket, payload) => {
        ack(socket, payload);
        socket.close(1011, "oops");
      },
    });
    try {
      expect((await run("orc-l2", rogue.url)).envelope).toMatchObject({
        error: { code: "ERR_INTERNAL", message: expect.stringContaining("closed mid-run (1011)") },
      });
    } finally {
      await rogue.close();
    }
  });

  it("the control plane's ERR_WS_TIMEOUT keeps the registered digest", async () => {
    const rogue = await startRogueProcessor({ script: ack });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new TheoryError("ERR_WS_TIMEOUT", "run exceeded its budget")), 100);
    try {
      expect((await run("orc-d1", rogue.url, { signal: controller.signal })).envelope).toMatchObject({
        error: { code: "ERR_WS_TIMEOUT" },
        meta: { image_digest: REGISTERED_DIGEST },
      });
    } finally {
      await rogue.close();
    }
  });

  it("the control plane's ERR_CANCELED after the grace period keeps the registered digest", async () => {
    const rogue = await startRogueProcessor({ script: ack }); // never answers Cancel
    const controller = new AbortController();
    setTimeout(() => controller.abort(new TheoryError("ERR_CANCELED", "the run was canceled")), 50);
    try {
      expect((await run("orc-d2", rogue.url, { signal: controller.signal })).envelope).toMatchObject({
        error: { code: "ERR_CANCELED" },
        meta: { image_digest: REGISTERED_DIGEST },
      });
    } finally {
      await rogue.close();
    }
  }, 15_000);

  it("before Ack nothing ran: no digest", async () => {
    const record = await run("orc-d3", "http://127.0.0.1:1");
    expect(record.envelope.meta).not.toHaveProperty("image_digest");
  });
});
