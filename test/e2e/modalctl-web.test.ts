import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import type { AgentDaemon } from "../../agent/daemon/daemon.ts";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { freePort, type LocalProcess, makeGrant } from "../../scripts/lib/local-stack.ts";
import { modalProxyHeaders, processorAuthHeaders } from "../../src/core/processor-auth.ts";
import { declaredApps } from "../support/modal-standin/deploy.ts";
import { type ModalStandin, startModalStandin } from "../support/modal-standin/server.ts";
import { makeTestCa, type TestCa } from "../support/tls.ts";
import { TEST_MODAL_PROXY } from "../support/tokens.ts";
import { startAgentDaemon } from "./support/agent-daemon.ts";
import { docker } from "./support/docker.ts";
import { type CliResult, httpsRequest, pushImage, runTheory, startCp } from "./support/modal-stack.ts";

// A Modal web endpoint end to end: `modalctl deploy-file` writes the app, the app file is deployed
// to the Modal stand-in (run by the real Python against a stand-in `modal` package: a real container
// behind TLS and a proxy-auth gate), `modalctl start --web` registers it, and runs go through it.

const LITELLM = "llm/litellm@1";
const APP = "theory-llm-litellm-1";
const AGENT = "web-parity-box";
const REPOSITORY = "127.0.0.1:5000/theory/modal-web-e2e";
const SECRETS = { LITELLM_API_KEY: "sk-standin-test", LITELLM_BASE_URL: "http://127.0.0.1:9/v1" };
const INPUTS = llmInputs("hi", { max_tokens: 5 });
const PROXY_ENV = { MODAL_PROXY_KEY: TEST_MODAL_PROXY.key, MODAL_PROXY_SECRET: TEST_MODAL_PROXY.secret };

let dir = "";
let ca: TestCa;
let standin: ModalStandin;
let modalEnv: Record<string, string> = {};
let digest = "";
let otherDigest = "";
let registryPath = "";
let otherRegistryPath = "";
/** With MODAL_PROXY_KEY/SECRET: it can reach web endpoints. */
let cpWeb: LocalProcess;
/** Without them; the local agent's control plane. */
let cpPlain: LocalProcess;
let daemon: AgentDaemon;
let headers: Record<string, string> = {};
let adminToken = "";
let webUrl = "";

const home = () => join(dir, "home-web");

/** The real CLI against the stand-in, trusting the test CA; proxy auth only where a test passes it. */
function cli(args: string[], env: Record<string, string> = {}, registry = registryPath): Promise<CliResult> {
  return runTheory([...args, "--registry", registry], {
    ...modalEnv,
    THEORY_HOME: home(),
    THEORY_CONTROL_PLANE: cpWeb.url,
    THEORY_TOKEN: adminToken,
    NODE_EXTRA_CA_CERTS: join(dir, "ca.pem"),
    ...env,
  });
}

async function runThrough(controlPlane: LocalProcess, body: object) {
  const response = await fetch(`${controlPlane.url}/v1/runs`, {
    method: "POST",
    headers: { ...headers, Prefer: "wait=20" },
    body: JSON.stringify({ mode: "mock", artifact_scope: "local", ...body }),
  });
  return (await response.json()) as any;
}

const envelopeOf = async (controlPlane: LocalProcess, runId: string) =>
  (await fetch(`${controlPlane.url}/v1/runs/${runId}/envelope`, { headers })).text();
const registrationOf = async (controlPlane: LocalProcess) =>
  fetch(`${controlPlane.url}/v1/endpoints/${LITELLM}`, { headers });

/** `modal deploy FILE` against the stand-in: what the app file declares, deployed. */
async function deploy(file: string) {
  const [app] = await declaredApps(file);
  if (!app) throw new Error(`${file} declares no app`);
  return standin.deploy(app);
}

/** A copy of registry.yaml with every tool from REPOSITORY pinned to `pin`; litellm on `port`. */
async function registryCopy(name: string, pin: string, port: number): Promise<string> {
  const registry = parseYaml(await readFile(join(import.meta.dirname, "../../registry.yaml"), "utf8"));
  for (const tool of Object.values(registry.tools) as any[]) {
    tool.image = REPOSITORY;
    tool.digests = { amd64: pin };
  }
  registry.tools[LITELLM].port = port;
  const path = join(dir, name);
  await writeFile(path, stringifyYaml(registry));
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-e2e-modal-web-"));
  ca = makeTestCa(dir);
  digest = await pushImage(inject("processorImage"), REPOSITORY, "main");
  // Another image (one label more): a deployment of it reports another digest.
  await writeFile(
    join(dir, "Dockerfile.other"),
    `FROM ${REPOSITORY}:main\nLABEL theory.e2e=another-digest\n`,
  );
  await docker("build", "-q", "-f", join(dir, "Dockerfile.other"), "-t", `${REPOSITORY}:other-build`, dir);
  otherDigest = await pushImage(`${REPOSITORY}:other-build`, REPOSITORY, "other");
  expect(otherDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
  expect(otherDigest).not.toBe(digest);
  const port = await freePort();
  registryPath = await registryCopy("registry.yaml", digest, port);
  otherRegistryPath = await registryCopy("registry-other.yaml", otherDigest, port);

  standin = await startModalStandin({
    tokenId: "ak-standin",
    tokenSecret: "as-standin",
    tls: { key: ca.key, cert: ca.cert },
    proxyAuth: TEST_MODAL_PROXY,
  });
  modalEnv = standin.sdkEnv(join(dir, "no-modal.toml"));

  const admin = makeGrant("admin", ["runs:write", "runs:read", "endpoints:write"]);
  const agent = makeGrant("agent", ["agents:connect"], AGENT);
  adminToken = admin.token;
  headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
  const vars = {
    AUTH_TOKENS: JSON.stringify([admin.grant, agent.grant]),
    LOG_LEVEL: "warn",
    HEALTH_BUDGET_MS: "1000",
  };
  cpWeb = await startCp(
    { ...vars, ENDPOINT_POLICY: "https+loopback", ...PROXY_ENV },
    { NODE_EXTRA_CA_CERTS: join(dir, "ca.pem") },
  );
  cpPlain = await startCp(vars, { NODE_EXTRA_CA_CERTS: join(dir, "ca.pem") });
  // Its own container name: other end-to-end files start litellm under the default one.
  const local = await cli(
    ["localctl", "start", "--ref", LITELLM, "--platform", "amd64", "--name", "theory-web-e2e"],
    {
      THEORY_HOME: join(dir, "home-local"),
      ...SECRETS,
    },
  );
  expect(local.code, local.stderr).toBe(0);
  daemon = await startAgentDaemon({
    controlPlane: cpPlain.url,
    agentId: AGENT,
    token: agent.token,
    home: join(dir, "home-local"),
  });
});

afterAll(async () => {
  await daemon?.stop();
  if (registryPath)
    await cli(["localctl", "stop", "--ref", LITELLM], { THEORY_HOME: join(dir, "home-local") }).catch(
      () => undefined,
    );
  await Promise.all([cpWeb?.stop(), cpPlain?.stop(), standin?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe("theory modalctl --web: a deployed Modal web endpoint behind proxy auth", () => {
  it("not deployed: start --web is ERR_ENDPOINT_MISSING (exit 7) with how to deploy; status --web finds nothing", async () => {
    const result = await cli(["modalctl", "start", "--web", "--ref", LITELLM], PROXY_ENV);
    expect(result.code).toBe(7);
    expect(result.json.error).toMatchObject({
      code: "ERR_ENDPOINT_MISSING",
      message: expect.stringMatching(/theory modalctl deploy-file --ref llm\/litellm@1, then modal deploy/),
    });
    expect((await registrationOf(cpWeb)).status).toBe(404);
    const status = await cli(["modalctl", "status", "--web", "--ref", LITELLM]);
    expect(status.json).toMatchObject({
      modal: { app: APP, function: "serve", found: false },
      control_plane: { configured: true, registered: false },
      consistent: false,
    });
  });

  it("deploy-file: the same bytes every time, the pinned digest, proxy auth; it compiles", async () => {
    const [first, second] = [join(dir, "app-1.py"), join(dir, "app-2.py")];
    const one = await cli(["modalctl", "deploy-file", "--ref", LITELLM, "--out", first]);
    const two = await cli(["modalctl", "deploy-file", "--ref", LITELLM, "--out", second]);
    expect(one.code, one.stderr).toBe(0);
    const text = await readFile(first, "utf8");
    expect(await readFile(second, "utf8")).toBe(text);
    expect(one.json).toEqual({
      ref: LITELLM,
      path: first,
      app: APP,
      function: "serve",
      image: `${REPOSITORY}@${digest}`,
      sha256: createHash("sha256").update(text).digest("hex"),
      deploy: `modal deploy ${first}`,
    });
    expect(two.json.sha256).toBe(one.json.sha256);
    expect(text).toContain(`${REPOSITORY}@${digest}`);
    expect(text).toContain("requires_proxy_auth=True");
    await promisify(execFile)("python3", ["-m", "py_compile", first]);
  });

  it("sync-secrets: the web endpoint's token is made once, kept 0600, synced to {app}-processor-token, never printed", async () => {
    const synced = [await cli(["modalctl", "sync-secrets", "--ref", LITELLM], SECRETS)];
    synced.push(await cli(["modalctl", "sync-secrets", "--ref", LITELLM], SECRETS));
    for (const result of synced) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.json).toMatchObject({
        ref: LITELLM,
        secret: `${APP}-secrets`,
        token_secret: `${APP}-processor-token`,
      });
    }
    const file = join(home(), "modal", "tokens.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const token = JSON.parse(await readFile(file, "utf8")).tokens[LITELLM].web;
    expect(token).toMatch(/^tpt_/);
    const sent = standin
      .calls_("SecretGetOrCreate")
      .filter((call) => call.request.deploymentName === `${APP}-processor-token`);
    expect(sent.map((call) => call.request.envDict)).toEqual([
      { PROCESSOR_TOKEN: token },
      { PROCESSOR_TOKEN: token },
    ]);
    for (const result of synced) expect(result.stdout + result.stderr).not.toContain(token);
  });

  it("modal deploy of the app: its web URL answers only with proxy auth, and /run only with the token too", async () => {
    const [deployed] = await deploy(join(dir, "app-1.py"));
    expect(deployed).toMatchObject({
      app: APP,
      name: "serve",
      image: `${REPOSITORY}@${digest}`,
      env: { IMAGE_DIGEST: digest, TOOL_REF: LITELLM, ...SECRETS },
    });
    webUrl = deployed?.webUrl ?? "";
    expect(webUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const proxy = modalProxyHeaders(TEST_MODAL_PROXY);
    expect((await httpsRequest(`${webUrl}/healthz`, ca.caCert)).status).toBe(401);
    await expect
      .poll(async () => (await httpsRequest(`${webUrl}/healthz`, ca.caCert, { headers: proxy })).status, {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(200);
    const run = (extra: Record<string, string>) =>
      httpsRequest(`${webUrl}/run`, ca.caCert, {
        method: "POST",
        headers: { ...proxy, "content-type": "application/json", ...extra },
        body: JSON.stringify({
          run_id: "web-direct",
          mode: "mock",
          inputs: INPUTS,
          write_prefix: `/artifacts/outputs/llm.litellm.1/web-direct/`,
          settle: "fast",
        }),
      });
    const refused = await run({});
    expect([refused.status, JSON.parse(refused.body).error.code]).toEqual([401, "ERR_AUTH"]);
    const token = JSON.parse(await readFile(join(home(), "modal", "tokens.json"), "utf8")).tokens[LITELLM]
      .web;
    expect((await run(processorAuthHeaders(token))).status).toBe(200);
    expect(deployed?.env.PROCESSOR_TOKEN).toBe(token);
  });

  it("start --web without proxy auth credentials, or with wrong ones: ERR_AUTH (exit 3), nothing registered", async () => {
    const none = await cli(["modalctl", "start", "--web", "--ref", LITELLM]);
    expect([none.code, none.json.error.code]).toEqual([3, "ERR_AUTH"]);
    expect(none.json.error.message).toContain("MODAL_PROXY_KEY");
    const wrong = await cli(["modalctl", "start", "--web", "--ref", LITELLM], {
      ...PROXY_ENV,
      MODAL_PROXY_SECRET: "ws-wrong",
    });
    expect([wrong.code, wrong.json.error.code]).toEqual([3, "ERR_AUTH"]);
    expect(wrong.json.error.message).toContain("refused");
    expect((await registrationOf(cpWeb)).status).toBe(404);
  });

  it("start --web on a control plane without MODAL_PROXY_KEY/SECRET: refused, 422 ERR_INPUTS naming them (exit 2)", async () => {
    const result = await cli(["modalctl", "start", "--web", "--ref", LITELLM], {
      ...PROXY_ENV,
      THEORY_CONTROL_PLANE: cpPlain.url,
    });
    expect([result.code, result.json.error.code]).toEqual([2, "ERR_INPUTS"]);
    expect(result.json.error.message).toContain("MODAL_PROXY_KEY");
    expect((await registrationOf(cpPlain)).status).toBe(404);
  });

  it("start --web: healthy through the proxy, registered as needing proxy auth; the token is never answered", async () => {
    const result = await cli(["modalctl", "start", "--web", "--ref", LITELLM], PROXY_ENV);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toEqual({
      ref: LITELLM,
      app: APP,
      function: "serve",
      function_id: expect.any(String),
      url: webUrl,
      image_digest: digest,
      registered: true,
    });
    const text = await (await registrationOf(cpWeb)).text();
    expect(JSON.parse(text)).toEqual({ ref: LITELLM, url: webUrl, image_digest: digest, proxy_auth: true });
    const token = JSON.parse(await readFile(join(home(), "modal", "tokens.json"), "utf8")).tokens[LITELLM]
      .web;
    expect(text + result.stdout + result.stderr).not.toContain(token);
    const status = await cli(["modalctl", "status", "--web", "--ref", LITELLM]);
    expect(status.json).toMatchObject({
      modal: { app: APP, function: "serve", found: true, url: webUrl },
      control_plane: { configured: true, registered: true, url: webUrl, proxy_auth: true },
      consistent: true,
    });
  });

  it("parity: the web endpoint (through the control plane and directly), the sandbox and the local agent give the same envelope bytes", async () => {
    const viaWeb = await runThrough(cpWeb, {
      ref: LITELLM,
      run_id: "parity-web",
      inputs: INPUTS,
      target: "modal",
    });
    expect(viaWeb).toMatchObject({ state: "succeeded", target: "modal" });
    const webBytes = await envelopeOf(cpWeb, "parity-web");
    expect(JSON.parse(webBytes)).toMatchObject({ status: "success", meta: { image_digest: digest } });

    const args = [
      "--ref",
      LITELLM,
      "--mode",
      "mock",
      "--run-id",
      "parity-web",
      "--inputs-json",
      JSON.stringify(INPUTS),
    ];
    const directWeb = await cli(["modalctl", "run", "--web", ...args], PROXY_ENV);
    expect(directWeb.code, directWeb.stderr).toBe(0);
    expect(directWeb.stdout).toBe(`${webBytes}\n`);

    const viaLocal = await runThrough(cpPlain, {
      ref: LITELLM,
      run_id: "parity-web",
      inputs: INPUTS,
      target: "local",
      agent: AGENT,
    });
    expect(viaLocal).toMatchObject({ state: "succeeded", target: "local" });
    expect(await envelopeOf(cpPlain, "parity-web")).toBe(webBytes);

    // A sandbox of the same pin (registered with the other control plane, so the web one stays).
    const sandboxEnv = { THEORY_CONTROL_PLANE: cpPlain.url };
    const started = await cli(["modalctl", "start", "--ref", LITELLM], sandboxEnv);
    expect(started.code, started.stderr).toBe(0);
    try {
      const directSandbox = await cli(["modalctl", "run", ...args], sandboxEnv);
      expect(directSandbox.code, directSandbox.stderr).toBe(0);
      expect(directSandbox.stdout).toBe(`${webBytes}\n`);
    } finally {
      expect((await cli(["modalctl", "stop", "--ref", LITELLM], sandboxEnv)).code).toBe(0);
    }
    expect(JSON.parse(await (await registrationOf(cpWeb)).text())).toMatchObject({ proxy_auth: true });
  });

  it("a deployment of another digest: its runs settle ERR_REGISTRY_MISMATCH, carrying the digest that ran", async () => {
    const file = join(dir, "app-other.py");
    const written = await cli(
      ["modalctl", "deploy-file", "--ref", LITELLM, "--out", file],
      {},
      otherRegistryPath,
    );
    expect([written.code, written.json.image]).toEqual([0, `${REPOSITORY}@${otherDigest}`]);
    await deploy(file);
    const registered = await cli(["modalctl", "start", "--web", "--ref", LITELLM], PROXY_ENV);
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.json.image_digest).toBe(digest);
    // The control plane under test bundles the repository's registry.yaml (no pins): the run names
    // the pin it expects; the CLI's direct run expects its registry's pin by itself.
    const run = await runThrough(cpWeb, {
      ref: LITELLM,
      run_id: "web-drift",
      inputs: INPUTS,
      target: "modal",
      expected_oci: `${REPOSITORY}@${digest}`,
    });
    expect(run).toMatchObject({
      state: "failed",
      envelope: {
        status: "error",
        error: { code: "ERR_REGISTRY_MISMATCH" },
        meta: { image_digest: otherDigest },
      },
    });
    const direct = await cli(
      [
        "modalctl",
        "run",
        "--web",
        "--ref",
        LITELLM,
        "--mode",
        "mock",
        "--run-id",
        "web-drift",
        "--inputs-json",
        JSON.stringify(INPUTS),
      ],
      PROXY_ENV,
    );
    expect(direct.code).toBe(10);
    expect(JSON.parse(direct.stdout)).toMatchObject({
      error: { code: "ERR_REGISTRY_MISMATCH" },
      meta: { image_digest: otherDigest },
    });
  });

  it("stop --web deregisters and leaves the deployment; again: ERR_NOT_FOUND (exit 4)", async () => {
    const stopped = await cli(["modalctl", "stop", "--web", "--ref", LITELLM]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.json).toEqual({ ref: LITELLM, deregistered: true, deployment: "kept" });
    expect((await registrationOf(cpWeb)).status).toBe(404);
    expect(standin.deployedFunction(APP, "serve")).toBeDefined();
    const status = await cli(["modalctl", "status", "--web", "--ref", LITELLM]);
    expect(status.json).toMatchObject({
      modal: { found: true },
      control_plane: { registered: false },
      consistent: false,
    });
    const again = await cli(["modalctl", "stop", "--web", "--ref", LITELLM]);
    expect([again.code, again.json.error.code]).toEqual([4, "ERR_NOT_FOUND"]);
  });
});
