import { describe, expect, it } from "vitest";
import { type BackoffPolicy, HEALTH_BACKOFF } from "../../src/core/backoff.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { healthError, pollHealth, probeHealth, waitStartedHealthy } from "../../src/core/health.ts";

const URL = "http://processor.test:8000/";

/** A fake `/healthz`: answers each probe from `answers` in turn (a status, or "down" to refuse), records requests. */
function fakeEndpoint(answers: (number | "down")[]) {
  const requests: Request[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    requests.push(request);
    const answer = answers[Math.min(requests.length - 1, answers.length - 1)];
    if (answer === "down") throw new TypeError("connection refused");
    return new Response(JSON.stringify({ ok: answer === 200 }), { status: answer });
  }) as typeof globalThis.fetch;
  return { fetch, requests };
}

/** A sleep that only adds up what it was asked to wait. */
function fakeClock() {
  const slept: number[] = [];
  return {
    slept,
    sleep: async (ms: number) => void slept.push(ms),
    total: () => slept.reduce((a, b) => a + b, 0),
  };
}

const policy: BackoffPolicy = { ...HEALTH_BACKOFF, totalMs: 5000 };

describe("probeHealth: one GET /healthz, never throws", () => {
  it("reports healthy, unhealthy with the status, and unreachable", async () => {
    expect(await probeHealth(URL, { fetch: fakeEndpoint([200]).fetch })).toEqual({ state: "healthy" });
    expect(await probeHealth(URL, { fetch: fakeEndpoint([503]).fetch })).toEqual({
      state: "unhealthy",
      status: 503,
    });
    expect(await probeHealth(URL, { fetch: fakeEndpoint(["down"]).fetch })).toEqual({ state: "unreachable" });
  });

  it("asks {url}/healthz with the given headers", async () => {
    const endpoint = fakeEndpoint([200]);
    await probeHealth(URL, { fetch: endpoint.fetch, headers: { "Modal-Key": "k", "Modal-Secret": "s" } });
    expect(endpoint.requests.map((request) => request.url)).toEqual(["http://processor.test:8000/healthz"]);
    expect(endpoint.requests[0]?.headers.get("Modal-Key")).toBe("k");
    expect(endpoint.requests[0]?.headers.get("Modal-Secret")).toBe("s");
  });

  it("a probe that outlives its timeout is unreachable", async () => {
    const hanging = ((_input: RequestInfo | URL, init?: RequestInit) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
      )) as typeof fetch;
    expect(await probeHealth(URL, { fetch: hanging, timeoutMs: 20 })).toEqual({ state: "unreachable" });
  });
});

describe("pollHealth: a bounded poll over the backoff policy", () => {
  it("is healthy after k unhealthy probes, sleeping once between each", async () => {
    const endpoint = fakeEndpoint([503, "down", 503, 200]);
    const clock = fakeClock();
    const poll = await pollHealth(URL, {
      policy,
      fetch: endpoint.fetch,
      sleep: clock.sleep,
      random: () => 0,
    });
    expect(poll).toEqual({ state: "healthy" });
    expect(endpoint.requests).toHaveLength(4);
    expect(clock.slept).toEqual([100, 200, 400]);
  });

  it("never answering within the budget -> unreachable, and the sleeps stay within the budget", async () => {
    const endpoint = fakeEndpoint(["down"]);
    const clock = fakeClock();
    const poll = await pollHealth(URL, {
      policy,
      fetch: endpoint.fetch,
      sleep: clock.sleep,
      random: Math.random,
    });
    expect(poll).toEqual({ state: "unreachable" });
    expect(clock.total()).toBeLessThanOrEqual(policy.totalMs);
    expect(clock.total()).toBeGreaterThanOrEqual(policy.totalMs - 1);
    expect(endpoint.requests).toHaveLength(clock.slept.length + 1);
  });

  it("answering non-2xx at least once -> unhealthy with the last status it answered", async () => {
    const clock = fakeClock();
    const poll = await pollHealth(URL, {
      policy,
      fetch: fakeEndpoint([401, 503, "down"]).fetch,
      sleep: clock.sleep,
    });
    expect(poll).toEqual({ state: "unhealthy", status: 503 });
  });

  it("stops early when alive() says it died", async () => {
    const endpoint = fakeEndpoint(["down"]);
    let checks = 0;
    const poll = await pollHealth(URL, {
      policy,
      fetch: endpoint.fetch,
      sleep: fakeClock().sleep,
      alive: () => ++checks < 3,
    });
    expect(poll).toEqual({ state: "died", status: undefined });
    expect(endpoint.requests).toHaveLength(3);
  });

  it("rejects with the signal's reason when aborted, probing no further", async () => {
    const controller = new AbortController();
    const reason = new TheoryError("ERR_CANCELED", "interrupted");
    const endpoint = fakeEndpoint(["down"]);
    const sleep = async () => {
      if (endpoint.requests.length === 2) controller.abort(reason);
    };
    await expect(
      pollHealth(URL, { policy, fetch: endpoint.fetch, sleep, signal: controller.signal }),
    ).rejects.toBe(reason);
    expect(endpoint.requests).toHaveLength(2);
  });

  it("rejects with the reason while sleeping with the default (abortable) sleep", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const poll = pollHealth(URL, {
      policy: { ...policy, initialMs: 60_000, maxMs: 60_000, totalMs: 60_000 },
      fetch: fakeEndpoint(["down"]).fetch,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(reason), 10);
    await expect(poll).rejects.toBe(reason);
  });

  it("ends where it stands when its budget ends: resolves with what it saw, probing no further", async () => {
    const budget = new AbortController();
    const endpoint = fakeEndpoint([503, "down"]);
    const sleep = async () => {
      if (endpoint.requests.length === 2) budget.abort(new Error("spent"));
    };
    const poll = await pollHealth(URL, { policy, fetch: endpoint.fetch, sleep, budget: budget.signal });
    expect(poll).toEqual({ state: "unhealthy", status: 503 });
    expect(endpoint.requests).toHaveLength(2);
  });

  it("a budget ending during the default sleep resolves at once; never answering is unreachable", async () => {
    const budget = new AbortController();
    const poll = pollHealth(URL, {
      policy: { ...policy, initialMs: 60_000, maxMs: 60_000, totalMs: 60_000 },
      fetch: fakeEndpoint(["down"]).fetch,
      budget: budget.signal,
    });
    setTimeout(() => budget.abort(new Error("spent")), 10);
    expect(await poll).toEqual({ state: "unreachable" });
  });

  it("sends the headers on every probe", async () => {
    const endpoint = fakeEndpoint([503, 200]);
    await pollHealth(URL, {
      policy,
      fetch: endpoint.fetch,
      sleep: fakeClock().sleep,
      headers: { "Modal-Key": "k" },
    });
    expect(endpoint.requests.map((request) => request.headers.get("Modal-Key"))).toEqual(["k", "k"]);
  });
});

describe("healthError: the one mapping from outcome to code", () => {
  const endpoint = { kind: "registered", name: "endpoint for llm/litellm@1" } as const;
  const started = { kind: "started", name: "the sandbox", budgetMs: 12_000 } as const;

  it("a registered endpoint: never answered -> ERR_ENDPOINT_MISSING, answered non-2xx -> ERR_HEALTH", () => {
    expect(healthError({ state: "unreachable" }, endpoint)).toMatchObject({
      code: "ERR_ENDPOINT_MISSING",
      message: "endpoint for llm/litellm@1 is not reachable",
    });
    expect(healthError({ state: "unhealthy", status: 503 }, endpoint)).toMatchObject({
      code: "ERR_HEALTH",
      message: "endpoint for llm/litellm@1 is unhealthy (HTTP 503)",
    });
  });

  it("something the caller started: ERR_HEALTH whether it died, never answered or answered non-2xx", () => {
    expect(healthError({ state: "died" }, started)).toMatchObject({
      code: "ERR_HEALTH",
      message: "the sandbox exited before it was healthy",
    });
    expect(healthError({ state: "unreachable" }, started)).toMatchObject({
      code: "ERR_HEALTH",
      message: "the sandbox was not healthy within 12 s",
    });
    expect(healthError({ state: "unhealthy", status: 502 }, started)).toMatchObject({
      code: "ERR_HEALTH",
      message: "the sandbox was not healthy within 12 s (last HTTP 502)",
    });
  });

  it("waitStartedHealthy resolves when healthy and throws the mapped ERR_HEALTH otherwise", async () => {
    const sleep = fakeClock().sleep;
    await expect(
      waitStartedHealthy(URL, "p", { policy, fetch: fakeEndpoint(["down", 200]).fetch, sleep }),
    ).resolves.toBeUndefined();
    await expect(
      waitStartedHealthy(URL, "p", {
        policy,
        fetch: fakeEndpoint(["down"]).fetch,
        sleep,
        alive: () => false,
      }),
    ).rejects.toMatchObject({ code: "ERR_HEALTH", message: "p exited before it was healthy" });
  });
});
