import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import type { AgentDaemon } from "../../agent/daemon/daemon.ts";
import { sandboxSpec } from "../../agent/modalctl/plan.ts";
import { echoInputs, llmInputs } from "../../scripts/lib/inputs.ts";
import { freePort, type LocalProcess, makeGrant } from "../../scripts/lib/local-stack.ts";
import { createLogger } from "../../src/core/log.ts";
import { newProcessorToken } from "../../src/core/processor-auth.ts";
import { parseToolRegistry } from "../../src/core/tool-registry.ts";
import { wireDrift } from "../support/modal-standin/sdk-fields.ts";
import {
  loadModalProto,
  type ModalStandin,
  PROTO_PATH,
  startModalStandin,
} from "../support/modal-standin/server.ts";
import { makeTestCa, type TestCa } from "../support/tls.ts";
import { startAgentDaemon } from "./support/agent-daemon.ts";
import { type CliResult, httpsRequest, pushImage, runTheory, startCp } from "./support/modal-stack.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const LITELLM = "llm/litellm@1";
const AGENT = "modal-parity-box";
const REPOSITORY = "127.0.0.1:5000/theory/modal-e2e";
const SECRETS = { LITELLM_API_KEY: "sk-standin-test", LITELLM_BASE_URL: "http://127.0.0.1:9/v1" };
const INPUTS = llmInputs("hi", { max_tokens: 5 });

let dir = "";
let ca: TestCa;
let standin: ModalStandin;
let modalEnv: Record<string, string> = {};
let digest = "";
let registryPath = "";
let cpModal: LocalProcess;
let cpLocal: LocalProcess;
let daemon: AgentDaemon;
let headers: Record<string, string> = {};
let adminToken = "";

/** The real CLI as a subprocess, trusting the test CA (the stand-in's tunnels are https). */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runTheory([...args, "--registry", registryPath], {
    ...modalEnv,
    THEORY_HOME: join(dir, "home-modal"),
    THEORY_CONTROL_PLANE: cpModal.url,
    THEORY_TOKEN: adminToken,
    NODE_EXTRA_CA_CERTS: join(dir, "ca.pem"),
    ...env,
  });
}

/** GET over https trusting only the test CA (this process started without NODE_EXTRA_CA_CERTS). */
const httpsGet = (url: string) => httpsRequest(url, ca.caCert);

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

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-e2e-modal-"));
  ca = makeTestCa(dir);
  // The processor image, pushed to the local registry: its manifest digest is what gets pinned.
  digest = await pushImage(inject("processorImage"), REPOSITORY, "main");
  expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
  // A registry copy pinned to that digest; litellm on a free host port for the local container.
  const registry = parseYaml(await readFile(join(ROOT, "registry.yaml"), "utf8"));
  for (const tool of Object.values(registry.tools) as any[]) {
    tool.image = REPOSITORY;
    tool.digests = { amd64: digest };
  }
  registry.tools[LITELLM].port = await freePort();
  registryPath = join(dir, "registry.yaml");
  await writeFile(registryPath, stringifyYaml(registry));

  standin = await startModalStandin({
    tokenId: "ak-standin",
    tokenSecret: "as-standin",
    tls: { key: ca.key, cert: ca.cert },
  });
  modalEnv = standin.sdkEnv(join(dir, "no-modal.toml"));
  Object.assign(process.env, modalEnv);

  const admin = makeGrant("admin", ["runs:write", "runs:read", "endpoints:write"]);
  const agent = makeGrant("agent", ["agents:connect"], AGENT);
  adminToken = admin.token;
  headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
  const vars = {
    AUTH_TOKENS: JSON.stringify([admin.grant, agent.grant]),
    LOG_LEVEL: "warn",
    HEALTH_BUDGET_MS: "1000",
  };
  // Two control planes: one run_id can run once per control plane (idempotency), and parity
  // compares the same run_id on both transports.
  // One after the other (two wrangler dev instances starting at once can race for a port), each
  // assigned as soon as it runs so afterAll stops it whatever fails next.
  cpModal = await startCp(
    { ...vars, ENDPOINT_POLICY: "https+loopback" },
    { NODE_EXTRA_CA_CERTS: join(dir, "ca.pem") },
  );
  cpLocal = await startCp(vars);
  // The local side: the same image by digest through localctl, bridged by the agent daemon.
  const local = await cli(["localctl", "start", "--ref", LITELLM, "--platform", "amd64"], {
    THEORY_HOME: join(dir, "home-local"),
    ...SECRETS,
  });
  expect(local.code, local.stderr).toBe(0);
  daemon = await startAgentDaemon({
    controlPlane: cpLocal.url,
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
  await Promise.all([cpModal?.stop(), cpLocal?.stop(), standin?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe("the stand-in's modal.proto", () => {
  it("matches the installed SDK's codecs field by field", () => {
    expect(wireDrift(loadModalProto())).toEqual([]);
  });

  it("a drifted field number is caught", () => {
    const drifted = readFileSync(PROTO_PATH, "utf8").replace(
      "PortSpecs open_ports = 20;",
      "PortSpecs open_ports = 21;",
    );
    const root = protobuf.parse(drifted).root;
    root.resolveAll();
    expect(wireDrift(root)).toEqual(["Sandbox.openPorts: proto 21/2, SDK 20/2"]);
  });
});

describe("the Modal gateway against the stand-in (the real SDK over h2c)", () => {
  const log = createLogger({ sink: () => {}, level: "error" });

  it("syncs the secret, starts the named sandbox with the right image, port, resources, env and secret; the tunnel is https", async () => {
    const { ModalGateway } = await import("../../agent/modalctl/gateway.ts");
    const gateway = new ModalGateway({ env: process.env, log });
    const registry = parseToolRegistry(await readFile(registryPath, "utf8"));
    const processorToken = newProcessorToken();
    const spec = sandboxSpec(registry, { ref: LITELLM, processorToken });
    const synced = await gateway.syncSecret("theory-llm-litellm-1-secrets", SECRETS);
    const started = await gateway.startSandbox(spec);
    try {
      expect(standin.calls[0]?.method).toBe("AuthTokenGet");
      expect(standin.calls_("SecretGetOrCreate")[0]?.request).toMatchObject({
        deploymentName: "theory-llm-litellm-1-secrets",
        objectCreationType: 3,
        envDict: SECRETS,
      });
      expect(standin.calls_("AppGetOrCreate")[0]?.request).toMatchObject({
        appName: "theory-llm-litellm-1",
        objectCreationType: 1,
      });
      expect(standin.calls_("ImageGetOrCreate")[0]?.request.image.dockerfileCommands).toEqual([
        `FROM ${REPOSITORY}@${digest}`,
      ]);
      const create = standin.calls_("SandboxCreateV2")[0]?.request ?? {};
      expect(create.definition).toMatchObject({
        name: "llm.litellm.1",
        openPorts: { ports: [{ port: spec.port }] },
        resources: { milliCpu: 1000, memoryMb: 2048 },
        timeoutSecs: 3600,
      });
      expect(create.secretSources).toEqual([
        { secretId: synced.secret_id },
        {
          env: {
            contents: {
              IMAGE_DIGEST: digest,
              ENV_FINGERPRINT: "cpu:1;memory:2Gi",
              TOOL_REF: LITELLM,
              PORT: String(spec.port),
              PROCESSOR_TOKEN: processorToken,
            },
          },
        },
      ]);
      // The container really got the secret's values and the digest it was started from.
      const sandbox = standin.sandboxes().find((entry) => entry.id === started.sandbox_id);
      expect(sandbox?.env).toMatchObject({ ...SECRETS, IMAGE_DIGEST: digest, TOOL_REF: LITELLM });
      expect(started.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(await waitFor(() => httpsGet(`${started.url}/healthz`))).toEqual({
        status: 200,
        body: '{"ok":true}',
      });
      expect(await gateway.sandboxStatus(spec.app, spec.name, spec.port)).toEqual({
        sandbox_id: started.sandbox_id,
        running: true,
        exit_code: null,
        url: started.url,
      });
    } finally {
      expect(await gateway.terminateSandbox(spec.app, spec.name)).toEqual({ sandbox_id: started.sandbox_id });
    }
    expect(await gateway.sandboxStatus(spec.app, spec.name, spec.port)).toBeNull();
  });

  it("not found: no sandbox by that name -> null status, nothing to terminate; a missing Modal secret -> ERR_MISSING_SECRET", async () => {
    const { ModalGateway } = await import("../../agent/modalctl/gateway.ts");
    const gateway = new ModalGateway({ env: process.env, log });
    expect(await gateway.sandboxStatus("theory-llm-litellm-1", "never-started", 8000)).toBeNull();
    expect(await gateway.terminateSandbox("theory-nobody", "never-started")).toBeNull();
    const registry = parseToolRegistry(await readFile(registryPath, "utf8"));
    const spec = {
      ...sandboxSpec(registry, { ref: LITELLM, processorToken: newProcessorToken() }),
      secret: "theory-unsynced-secrets",
    };
    await expect(gateway.startSandbox(spec)).rejects.toMatchObject({
      code: "ERR_MISSING_SECRET",
      message: expect.stringContaining("modalctl sync-secrets"),
    });
  });

  it("an image Modal cannot pull -> ERR_IMAGE_NOT_FOUND", async () => {
    const { ModalGateway } = await import("../../agent/modalctl/gateway.ts");
    const gateway = new ModalGateway({ env: process.env, log });
    const registry = parseToolRegistry(await readFile(registryPath, "utf8"));
    const spec = sandboxSpec(registry, {
      ref: "echo/text@1",
      oci: `${REPOSITORY}@sha256:${"e".repeat(64)}`,
      processorToken: newProcessorToken(),
    });
    await expect(gateway.startSandbox(spec)).rejects.toMatchObject({ code: "ERR_IMAGE_NOT_FOUND" });
  });

  it("bad or missing credentials -> ERR_AUTH with the fix", async () => {
    const { ModalGateway } = await import("../../agent/modalctl/gateway.ts");
    const wrong = new ModalGateway({ env: { ...process.env, MODAL_TOKEN_SECRET: "as-wrong" }, log });
    await expect(wrong.ensureApp("theory-echo-text-1")).rejects.toMatchObject({
      code: "ERR_AUTH",
      message: expect.stringContaining("MODAL_TOKEN_ID"),
    });
    expect(() => new ModalGateway({ env: { MODAL_SERVER_URL: standin.url }, log })).toThrow(
      /modal token new/,
    );
    const authCalls = standin.calls_("AuthTokenGet");
    expect(authCalls.at(-1)?.status).toBe(16);
  });
});

async function waitFor<T>(probe: () => Promise<T>, attempts = 50): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await probe();
    } catch (error) {
      if (i >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe("theory modalctl (the real CLI) against the stand-in and a control plane under wrangler dev", () => {
  let sandboxId = "";
  let url = "";

  it("sync-secrets: the registry's secrets from the environment; one missing -> ERR_MISSING_SECRET", async () => {
    const missing = await cli(["modalctl", "sync-secrets", "--ref", LITELLM], {
      LITELLM_API_KEY: SECRETS.LITELLM_API_KEY,
      LITELLM_BASE_URL: "",
    });
    expect(missing.code).toBe(6);
    expect(missing.json.error).toMatchObject({
      code: "ERR_MISSING_SECRET",
      message: expect.stringContaining("LITELLM_BASE_URL"),
    });
    const synced = await cli(["modalctl", "sync-secrets", "--ref", LITELLM], SECRETS);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.json).toMatchObject({
      ref: LITELLM,
      secret: "theory-llm-litellm-1-secrets",
      keys: ["LITELLM_API_KEY", "LITELLM_BASE_URL"],
    });
    expect(synced.stdout).not.toContain(SECRETS.LITELLM_API_KEY);
  });

  it("start: an image that cannot be pulled -> ERR_IMAGE_NOT_FOUND, nothing registered", async () => {
    const result = await cli([
      "modalctl",
      "start",
      "--ref",
      LITELLM,
      "--oci",
      `${REPOSITORY}@sha256:${"f".repeat(64)}`,
    ]);
    expect(result.code).toBe(8);
    expect(result.json.error.code).toBe("ERR_IMAGE_NOT_FOUND");
    const registered = await fetch(`${cpModal.url}/v1/endpoints/${LITELLM}`, { headers });
    expect(registered.status).toBe(404);
  });

  it("start: the sandbox is healthy behind its tunnel and registered with the control plane", async () => {
    const result = await cli(["modalctl", "start", "--ref", LITELLM]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({
      ref: LITELLM,
      app: "theory-llm-litellm-1",
      sandbox: "llm.litellm.1",
      image_digest: digest,
      registered: true,
    });
    sandboxId = result.json.sandbox_id;
    url = result.json.url;
    const tunnel = standin.sandboxes().find((entry) => entry.id === sandboxId)?.runtime.tunnelUrl;
    expect(url).toBe(tunnel);
    const registered = await (await fetch(`${cpModal.url}/v1/endpoints/${LITELLM}`, { headers })).json();
    expect(registered).toEqual({ ref: LITELLM, url, image_digest: digest });
  });

  it("status: both sides, consistent", async () => {
    const result = await cli(["modalctl", "status", "--ref", LITELLM]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toEqual({
      ref: LITELLM,
      modal: {
        app: "theory-llm-litellm-1",
        sandbox: "llm.litellm.1",
        found: true,
        sandbox_id: sandboxId,
        running: true,
        exit_code: null,
        url,
      },
      control_plane: { configured: true, registered: true, ref: LITELLM, url, image_digest: digest },
      consistent: true,
    });
  });

  it("status: an unreachable control plane is ERR_ENDPOINT_MISSING (exit 7), like every control-plane call", async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const result = await cli(["modalctl", "status", "--ref", LITELLM], { THEORY_CONTROL_PLANE: unreachable });
    expect(result.code).toBe(7);
    expect(result.json.error).toEqual({
      code: "ERR_ENDPOINT_MISSING",
      message: `the control plane at ${unreachable} is unreachable`,
    });
  });

  it("positive parity: modalctl run, the control plane with target modal (wss through the tunnel) and with target local give byte-identical envelopes", async () => {
    const direct = await cli([
      "modalctl",
      "run",
      "--ref",
      LITELLM,
      "--mode",
      "mock",
      "--run-id",
      "parity-1",
      "--inputs-json",
      JSON.stringify(INPUTS),
    ]);
    expect(direct.code, direct.stderr).toBe(0);
    const [viaModal, viaLocal] = await Promise.all([
      runThrough(cpModal, { ref: LITELLM, run_id: "parity-1", inputs: INPUTS, target: "modal" }),
      runThrough(cpLocal, {
        ref: LITELLM,
        run_id: "parity-1",
        inputs: INPUTS,
        target: "local",
        agent: AGENT,
      }),
    ]);
    expect(viaModal).toMatchObject({ state: "succeeded", target: "modal" });
    expect(viaLocal).toMatchObject({ state: "succeeded", target: "local" });
    const modalBytes = await envelopeOf(cpModal, "parity-1");
    expect(JSON.parse(modalBytes)).toMatchObject({
      status: "success",
      run_id: "parity-1",
      meta: { image_digest: digest },
    });
    expect(await envelopeOf(cpLocal, "parity-1")).toBe(modalBytes);
    expect(direct.stdout).toBe(`${modalBytes}\n`);
  });

  it("the spec's example command runs verbatim on the started sandbox", async () => {
    const result = await cli([
      "modalctl",
      "run",
      "--ref",
      LITELLM,
      "--mode",
      "mock",
      "--inputs-json",
      '{"schema":"v1","params":{"messages":[{"role":"user","content":"test"}]}}',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({ status: "success", meta: { image_digest: digest } });
  });

  it("negative parity: no endpoint registered / no agent -> ERR_ENDPOINT_MISSING on both transports", async () => {
    const [viaModal, viaLocal] = await Promise.all([
      runThrough(cpModal, {
        ref: "echo/text@1",
        run_id: "missing-1",
        inputs: echoInputs("x"),
        target: "modal",
      }),
      runThrough(cpLocal, {
        ref: "echo/text@1",
        run_id: "missing-1",
        inputs: echoInputs("x"),
        target: "local",
        agent: "ghost",
      }),
    ]);
    expect(viaModal).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_ENDPOINT_MISSING" } },
    });
    expect(viaLocal).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_ENDPOINT_MISSING" } },
    });
  });

  it("negative parity: endpoint registered but the sandbox gone -> ERR_ENDPOINT_MISSING/ERR_HEALTH within the budget", async () => {
    await standin.killContainer(sandboxId);
    const started = Date.now();
    const viaModal = await runThrough(cpModal, {
      ref: LITELLM,
      run_id: "gone-1",
      inputs: INPUTS,
      target: "modal",
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(viaModal.state).toBe("failed");
    expect(["ERR_ENDPOINT_MISSING", "ERR_HEALTH"]).toContain(viaModal.envelope.error.code);
    // Directly: Modal reports the sandbox finished, so there is no endpoint to run on.
    const direct = await cli([
      "modalctl",
      "run",
      "--ref",
      LITELLM,
      "--mode",
      "mock",
      "--run-id",
      "gone-2",
      "--inputs-json",
      JSON.stringify(INPUTS),
    ]);
    expect(direct.code).toBe(7);
    expect(JSON.parse(direct.stdout)).toMatchObject({
      status: "error",
      run_id: "gone-2",
      error: { code: "ERR_ENDPOINT_MISSING" },
    });
  });

  it("stop: deregisters (and terminates what is left); a second stop -> ERR_NOT_FOUND; status then shows neither side", async () => {
    const stopped = await cli(["modalctl", "stop", "--ref", LITELLM]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.json).toMatchObject({ ref: LITELLM, deregistered: true });
    expect((await fetch(`${cpModal.url}/v1/endpoints/${LITELLM}`, { headers })).status).toBe(404);
    const again = await cli(["modalctl", "stop", "--ref", LITELLM]);
    expect(again.code).toBe(4);
    const status = await cli(["modalctl", "status", "--ref", LITELLM]);
    expect(status.json).toMatchObject({
      modal: { found: false, running: false },
      control_plane: { configured: true, registered: false },
      consistent: false,
    });
  });
});
