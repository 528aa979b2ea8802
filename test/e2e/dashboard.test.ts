import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import {
  freePort,
  type LocalProcess,
  makeGrant,
  type ProcessorProcess,
  registrationFor,
  startControlPlane,
} from "../../scripts/lib/local-stack.ts";
import { readSse } from "../../src/core/sse-reader.ts";
import { encodeSseEvents, SSE_HEADERS } from "../../src/core/sse-writer.ts";
import { type LocalS3, startS3 } from "../support/s3.ts";
import { sseEventsOf } from "../support/sse.ts";
import { until } from "../support/until.ts";
import { type AgentProcess, startAgentProcess } from "./support/agent-process.ts";
import { launchChromium } from "./support/browser.ts";
import { startRecordedProcessor } from "./support/source-processor.ts";

// The dashboard in a real browser (Debian's Chromium through playwright-core), served by the control
// plane under wrangler dev, with a processor from source registered as the ref's endpoint, a real
// `theory agent` process, and S3 storage (s3rver) so world-scope outputs can be downloaded.
const root = join(import.meta.dirname, "..", "..");
const DIGEST = `sha256:${"5".repeat(64)}`;
const REF = "llm/litellm@1";
const AGENT = "e2e-dashboard";
const WIDE = { width: 1100, height: 720 };
/** README shows these; written when missing, or all of them with THEORY_UPDATE_SCREENSHOTS=1. */
const SCREENSHOTS = join(root, "docs", "screenshots");

let dir = "";
let processor: ProcessorProcess;
let controlPlane: LocalProcess;
let s3: LocalS3;
let agent: AgentProcess;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let adminToken = "";
let viewerToken = "";
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-e2e-dashboard-"));
  const home = join(dir, "home");
  browser = await launchChromium();
  processor = await startRecordedProcessor(dir, home, DIGEST);
  const admin = makeGrant("admin", ["runs:write", "runs:read", "endpoints:write"]);
  const viewer = makeGrant("viewer", ["runs:read"]);
  const agentGrant = makeGrant("agent", ["agents:connect"], AGENT);
  adminToken = admin.token;
  viewerToken = viewer.token;
  s3 = await startS3("theory-dashboard");
  controlPlane = await startControlPlane({
    port: await freePort(),
    inspectorPort: await freePort(),
    vars: {
      AUTH_TOKENS: JSON.stringify([admin.grant, viewer.grant, agentGrant.grant]),
      STORAGE: "s3",
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: "us-east-1",
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      LOG_LEVEL: "warn",
    },
  });
  const put = await api(`/v1/endpoints/${REF}`, {
    method: "PUT",
    body: JSON.stringify(registrationFor(processor, DIGEST)),
  });
  expect(put.status).toBe(200);
  agent = startAgentProcess({
    agentId: AGENT,
    token: agentGrant.token,
    home,
    controlPlane: controlPlane.url,
  });
  await until("the agent online", async () => {
    const { agents } = (await (await api("/v1/agents")).json()) as { agents: { online: boolean }[] };
    return agents.some((listed) => listed.online);
  });
  context = await browser.newContext({ viewport: WIDE, permissions: ["clipboard-read", "clipboard-write"] });
  // Every CSP violation the page meets, recorded before any of its own scripts run.
  await context.addInitScript({
    content: `window.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`,
  });
  page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  agent?.child.kill("SIGKILL");
  await controlPlane?.stop();
  await processor?.stop();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${controlPlane.url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json", ...init.headers },
  });
}

/** POST /v1/runs: a mock run of llm/litellm@1 on the endpoint, `tokens` tokens `delayMs` apart. */
async function createRun(
  runId: string,
  tokens: number,
  delayMs: number,
  extra: Record<string, unknown> = {},
) {
  const response = await api("/v1/runs", {
    method: "POST",
    body: JSON.stringify({
      ref: REF,
      run_id: runId,
      mode: "mock",
      inputs: llmInputs("hi", { max_tokens: tokens, token_delay_ms: delayMs }),
      target: "modal",
      artifact_scope: "local",
      ...extra,
    }),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
}

async function signIn(token: string): Promise<void> {
  await page.locator("#token").fill(token);
  await page.locator("#token").press("Enter");
  await page.locator("#nav").waitFor();
}

/**
 * Runs `fn` in the page. Its globals are `globalThis` there, typed loosely (this project's Node code
 * has no DOM types). A function, never a string: Playwright evaluates strings with eval, which the
 * page's CSP refuses.
 */
type PageGlobals = Record<string, any>;
const inPage = <T>(fn: () => T): Promise<T> => page.evaluate(fn);

/** Moves within the page, as a link would: no reload. */
const go = (hash: string) =>
  page.evaluate((to) => {
    (globalThis as PageGlobals).location.hash = to;
  }, hash);

/** The run page's streamed text is on screen (the empty block is not displayed). */
const tokensShown = () => page.locator("#tokens").waitFor({ state: "visible", timeout: 30_000 });

const cspViolations = () => inPage(() => (globalThis as PageGlobals).cspViolations as string[]);

async function screenshot(name: string): Promise<void> {
  const png = await page.screenshot({ type: "png" });
  expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
  expect(png.byteLength).toBeLessThan(200_000);
  const file = join(SCREENSHOTS, `${name}.png`);
  if (process.env.THEORY_UPDATE_SCREENSHOTS === "1" || !existsSync(file)) {
    await mkdir(SCREENSHOTS, { recursive: true });
    await writeFile(file, png);
  }
}

describe("the dashboard in a browser", () => {
  it("is served at / under a strict CSP that the browser enforces; the API keeps its answers", async () => {
    const response = await fetch(`${controlPlane.url}/`);
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe");
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(html).not.toMatch(/\sstyle=/);
    expect((await fetch(`${controlPlane.url}/v1/runs`)).status).toBe(401);
    expect((await fetch(`${controlPlane.url}/healthz`)).status).toBe(200);
    const unknown = await fetch(`${controlPlane.url}/no-such-page`);
    expect([unknown.status, ((await unknown.json()) as any).error.code]).toEqual([404, "ERR_NOT_FOUND"]);

    await page.goto(controlPlane.url);
    await page.locator("#token").waitFor();
    // The policy is in force: a script the page did not ship does not run, and says why.
    const ran = await inPage(() => {
      const window = globalThis as PageGlobals;
      const script = window.document.createElement("script");
      script.textContent = "window.inlineRan = true";
      window.document.body.append(script);
      return window.inlineRan === true;
    });
    expect(ran).toBe(false);
    expect(await cspViolations()).toEqual([expect.stringContaining("script-src")]);
    await inPage(() => (globalThis as PageGlobals).cspViolations.splice(0));
  });

  it("a bad token shows ERR_AUTH with the README's fix, and is not kept", async () => {
    await page.locator("#token").fill("not-a-real-token");
    await page.locator("#token").press("Enter");
    const problem = page.locator(".sign-in .problem");
    await problem.waitFor();
    expect(await problem.locator(".error-code").textContent()).toBe("ERR_AUTH");
    expect(await problem.textContent()).toContain("the bearer token is not valid");
    expect(await problem.locator(".fix").textContent()).toContain("mint a token with the scope");
    expect(await inPage(() => (globalThis as PageGlobals).sessionStorage.length)).toBe(0);
    expect(page.url()).not.toContain("not-a-real-token");
  });

  it("signs in; a run created through the API appears and turns succeeded without a reload", async () => {
    await signIn(adminToken);
    expect(await page.locator("#who").textContent()).toContain("admin");
    expect(await inPage(() => (globalThis as PageGlobals).sessionStorage.getItem("theory.token"))).toBe(
      adminToken,
    );
    expect(page.url()).not.toContain(adminToken);
    await page.locator("table.grid tbody tr").first().waitFor();
    await inPage(() => {
      (globalThis as PageGlobals).sameDocument = true;
    });

    await createRun("dash-live", 40, 150, { tags: ["dashboard", "e2e"] });
    const row = page.locator('tr[data-run-id="dash-live"]');
    await row.waitFor({ timeout: 15_000 });
    expect(["queued", "running"]).toContain(await row.locator("[data-state]").getAttribute("data-state"));
    await row.locator('[data-state="succeeded"]').waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain("dashboard");
    expect(await row.locator('[data-label="Target"]').textContent()).toBe("modal");

    // Through the agent: target local, on that machine.
    await createRun("dash-local", 5, 0, { target: "local", agent: AGENT });
    const local = page.locator('tr[data-run-id="dash-local"]');
    await local.locator('[data-state="succeeded"]').waitFor({ timeout: 30_000 });
    expect(await local.locator('[data-label="Target"]').textContent()).toBe(`local · ${AGENT}`);
    expect(await inPage(() => (globalThis as PageGlobals).sameDocument)).toBe(true);
    await screenshot("runs");
  });

  it("filters and pages the listing with its cursor", async () => {
    for (const runId of ["dash-page-1", "dash-page-2", "dash-page-3"])
      await createRun(runId, 2, 0, { tags: ["paged"] });
    // The index trails the runs by a moment (docs/operations.md): page once all three are in it.
    await until("the three runs indexed", async () => {
      const { runs } = (await (await api("/v1/runs?tag=paged")).json()) as { runs: unknown[] };
      return runs.length === 3;
    });
    await go("#/runs?tag=paged&limit=2");
    await until("two paged runs", async () => (await page.locator("tr[data-run-id]").count()) === 2);
    expect(
      await page
        .locator("tr[data-run-id]")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id"))),
    ).toEqual(["dash-page-3", "dash-page-2"]);
    await page.locator('a[rel="next"]').click();
    await until("the last page", async () => (await page.locator("tr[data-run-id]").count()) === 1);
    expect(await page.locator("tr[data-run-id]").getAttribute("data-run-id")).toBe("dash-page-1");
    expect(await page.locator('a[rel="next"]').count()).toBe(0);

    // The form: state "failed" matches none of them; a bad filter is the API's ERR_INPUTS.
    await page.locator('select[name="state"]').selectOption("failed");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("No runs match.").waitFor();
    expect(page.url()).toContain("state=failed");
    expect(page.url()).toContain("tag=paged");
    await go("#/runs?tag=bad%20tag");
    expect(await page.locator(".problem .error-code").textContent()).toBe("ERR_INPUTS");
  });

  it("a run's page streams its tokens live, then shows the exact envelope bytes, timeline and outputs", async () => {
    await go("#/runs");
    await createRun("dash-stream", 60, 100, { artifact_scope: "world" });
    await page.locator('tr[data-run-id="dash-stream"] a.run-id').click();
    await tokensShown();
    // Still streaming: tokens are on the page before the envelope is.
    expect(await page.locator("#envelope-bytes").count()).toBe(0);
    await page.locator("#envelope-bytes").waitFor({ state: "attached", timeout: 30_000 });
    await page.locator('.run-state [data-state="succeeded"]').waitFor();

    const envelope = await api("/v1/runs/dash-stream/envelope");
    const bytes = await envelope.text();
    expect(await page.locator("#envelope-bytes").textContent()).toBe(bytes);
    expect(await page.locator("#envelope-sha256").textContent()).toBe(
      envelope.headers.get("etag")?.replaceAll('"', ""),
    );
    expect(JSON.parse((await page.locator("#envelope-pretty").textContent()) ?? "")).toEqual(
      JSON.parse(bytes),
    );
    await page.locator("#copy-envelope").click();
    expect(await inPage(() => (globalThis as PageGlobals).navigator.clipboard.readText())).toBe(bytes);

    const events = await sseEventsOf(
      await api("/v1/runs/dash-stream/events", { headers: { Accept: "text/event-stream" } }),
    );
    const tokens = events.filter((event) => event.event === "Token");
    expect(tokens).toHaveLength(60);
    const streamed = tokens.map((event) => JSON.parse(event.data).content.text).join("");
    expect(await page.locator("#tokens").textContent()).toBe(streamed);

    expect(await page.locator("svg.timeline rect").count()).toBe(3);
    expect(await page.locator("#run-duration").textContent()).toMatch(/s$/);

    // A world-scope output, downloaded with the bearer token: the bytes the API serves.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.locator('button[data-path="text/response.txt"]').click(),
    ]);
    const saved = await readFile(await download.path());
    const served = Buffer.from(
      await (await api("/v1/runs/dash-stream/outputs/text/response.txt")).arrayBuffer(),
    );
    expect(saved.equals(served)).toBe(true);
    expect(download.suggestedFilename()).toBe("response.txt");
    await inPage(() => (globalThis as PageGlobals).scrollTo(0, 0));
    await screenshot("run");
  });

  it("a stream that drops mid-run is resumed with Last-Event-ID: no token lost or repeated", async () => {
    const FIRST = 10;
    const lastEventIds: (string | undefined)[] = [];
    let served = "";
    // The page's first events request gets the run's first events, then its connection ends, as
    // a dropped one does; every later request reaches the control plane.
    await page.route("**/v1/runs/dash-resume/events", async (route) => {
      lastEventIds.push(route.request().headers()["last-event-id"]);
      if (lastEventIds.length > 1) return route.continue();
      const live = await api("/v1/runs/dash-resume/events", { headers: { Accept: "text/event-stream" } });
      const first = [];
      for await (const event of readSse(live.body as ReadableStream<Uint8Array>)) {
        first.push(event);
        if (first.length === FIRST) break;
      }
      served = first.at(-1)?.id ?? "";
      await route.fulfill({ status: 200, headers: SSE_HEADERS, body: Buffer.from(encodeSseEvents(first)) });
    });
    try {
      await createRun("dash-resume", 50, 100);
      await go("#/runs/dash-resume");
      await page.locator('.run-state [data-state="succeeded"]').waitFor({ timeout: 30_000 });
    } finally {
      await page.unroute("**/v1/runs/dash-resume/events");
    }
    expect(lastEventIds.slice(0, 2)).toEqual([undefined, served]);
    expect(Number(served)).toBeGreaterThan(0);
    const events = await sseEventsOf(
      await api("/v1/runs/dash-resume/events", { headers: { Accept: "text/event-stream" } }),
    );
    const streamed = events
      .filter((event) => event.event === "Token")
      .map((event) => JSON.parse(event.data).content.text)
      .join("");
    expect(await page.locator("#tokens").textContent()).toBe(streamed);
  });

  it("a replayed run links to its replay, and the replay back to it", async () => {
    await createRun("dash-replayed", 3, 0);
    await until("dash-replayed settled", async () => (await api("/v1/runs/dash-replayed/envelope")).ok);
    const replayed = await api("/v1/runs/dash-replayed/replay", {
      method: "POST",
      body: JSON.stringify({ run_id: "dash-replay" }),
    });
    expect(((await replayed.json()) as { verdict: string }).verdict).toBe("identical");
    await go("#/runs/dash-replayed");
    await page.locator('.summary a[href="#/runs/dash-replay"]').click();
    await page.locator('.summary a[href="#/runs/dash-replayed"]').waitFor({ timeout: 15_000 });
    expect(await page.locator("h1 code").textContent()).toBe("dash-replay");
  });

  it("cancel from the page settles the run ERR_CANCELED", async () => {
    await createRun("dash-cancel", 1000, 100);
    await go("#/runs/dash-cancel");
    await tokensShown();
    await page.locator("#cancel-run").click();
    await page.locator('.run-state [data-state="canceled"]').waitFor({ timeout: 30_000 });
    const envelopeSection = page.locator('section[aria-labelledby="envelope-heading"]');
    expect(await envelopeSection.locator(".error-code").textContent()).toBe("ERR_CANCELED");
    expect(await page.locator("#cancel-run").count()).toBe(0);
    const resource = (await (await api("/v1/runs/dash-cancel")).json()) as any;
    expect([resource.state, resource.envelope.error.code]).toEqual(["canceled", "ERR_CANCELED"]);
  });

  it("agents: online with its tools, and offline once the agent stops, without a reload", async () => {
    await page.locator('#nav a[data-section="agents"]').click();
    const row = page.locator(`tr[data-agent-id="${AGENT}"]`);
    await row.locator('[data-state="online"]').waitFor();
    expect(await row.textContent()).toContain(REF);
    expect(await row.locator('[data-label="Platform"]').textContent()).toBe("amd64");
    await screenshot("agents");
    agent.child.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    await row.locator('[data-state="offline"]').waitFor({ timeout: 30_000 });
  });

  it("endpoints: the registration, ref, URL and digest", async () => {
    await page.locator('#nav a[data-section="endpoints"]').click();
    const row = page.locator(`tr[data-ref="${REF}"]`);
    await row.waitFor();
    expect(await row.locator('[data-label="URL"]').textContent()).toBe(processor.url);
  });

  it("a read-only token sees no Endpoints and no cancel; sign-out forgets the token", async () => {
    await page.locator("#sign-out").click();
    expect(await inPage(() => (globalThis as PageGlobals).sessionStorage.length)).toBe(0);
    await signIn(viewerToken);
    expect(await page.locator('#nav a[data-section="endpoints"]').isHidden()).toBe(true);
    await createRun("dash-viewer", 1000, 100);
    await go("#/runs/dash-viewer");
    await tokensShown();
    expect(await page.locator(".run-state [data-state]").getAttribute("data-state")).toBe("running");
    expect(await page.locator("#cancel-run").count()).toBe(0);
    await api("/v1/runs/dash-viewer/cancel", { method: "POST" });
    await page.locator('.run-state [data-state="canceled"]').waitFor({ timeout: 30_000 });
  });

  it("works on a narrow screen and from the keyboard", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await go("#/runs");
    await page.locator('tr[data-run-id="dash-live"]').waitFor();
    expect(
      await inPage(() => {
        const window = globalThis as PageGlobals;
        return window.document.documentElement.scrollWidth <= window.innerWidth;
      }),
    ).toBe(true);
    await screenshot("runs-narrow");
    await page.setViewportSize(WIDE);

    // From the top of the page, Tab reaches the newest run's link; Enter opens it.
    await inPage(() => (globalThis as PageGlobals).document.activeElement?.blur());
    let focused = "";
    for (let presses = 0; presses < 80 && !focused.startsWith("run:"); presses++) {
      await page.keyboard.press("Tab");
      focused = await inPage(() => {
        const element = (globalThis as PageGlobals).document.activeElement;
        return element?.classList.contains("run-id")
          ? `run:${element.textContent}`
          : String(element?.tagName);
      });
    }
    expect(focused).toBe("run:dash-viewer");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: /Run dash-viewer/ }).waitFor();
  });

  it("met no CSP violation and no script error", async () => {
    expect(await cspViolations()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
