import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { echoInputs, llmInputs } from "../../scripts/lib/inputs.ts";
import { freePort, type LocalProcess, makeGrant, startControlPlane } from "../../scripts/lib/local-stack.ts";
import { docker } from "./support/docker.ts";

const root = join(import.meta.dirname, "..", "..");
const exec = promisify(execFile);
const REPO = "127.0.0.1:5000/theory/parity-e2e";
const PLATFORM = process.arch === "arm64" ? "arm64" : "amd64";
const NAME = "theory-echo.text.1-parity";
const AGENT = "parity-box";

let work = "";
let registryFile = "";
let controlPlane: LocalProcess;
let agent: ReturnType<typeof spawn> | undefined;
let headers: Record<string, string> = {};
let agentToken = "";

/** The real CLI as a user runs it. */
async function theory(args: string[], env: Record<string, string> = {}) {
  const child = await exec(
    process.execPath,
    ["agent/bin/theory.js", ...args, "--registry", registryFile, "--json"],
    {
      cwd: root,
      env: { ...process.env, THEORY_HOME: join(work, "home"), ...env },
    },
  ).catch((error: { stdout: string; stderr: string; code: number }) => error);
  return child as { stdout: string; stderr: string; code?: number };
}

beforeAll(async () => {
  await exec("bash", [join(root, "scripts/docker/ensure-image-registry.sh")]);
  work = await mkdtemp(join(tmpdir(), "theory-parity-e2e-"));
  await docker("tag", inject("processorImage"), `${REPO}:main`);
  const pushed = /digest: (sha256:[a-f0-9]{64})/.exec(await docker("push", `${REPO}:main`))?.[1];
  if (!pushed) throw new Error("no digest from the push");
  // The same declared resources and outputs as the control plane's registry.yaml, pinned here.
  registryFile = join(work, "registry.yaml");
  await writeFile(
    registryFile,
    stringify({
      schema: "v1",
      tools: {
        "echo/text@1": {
          image: REPO,
          digests: { [PLATFORM]: pushed },
          port: await freePort(),
          resources: { cpu: 0.25, memory: "256Mi" },
          secrets: [],
          schema: "schema/tools/echo.text.1.json",
          timeout_s: 30,
          modal: { app: "theory-echo-text-1" },
        },
      },
    }),
  );
  const started = await theory([
    "localctl",
    "start",
    "--ref",
    "echo/text@1",
    "--platform",
    PLATFORM,
    "--name",
    NAME,
  ]);
  if (started.code) throw new Error(`localctl start failed: ${started.stdout}${started.stderr}`);

  const admin = makeGrant("admin", ["runs:write", "runs:read"]);
  const agentGrant = makeGrant("agent", ["agents:connect"], AGENT);
  headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
  agentToken = agentGrant.token;
  controlPlane = await startControlPlane({
    port: await freePort(),
    vars: { AUTH_TOKENS: JSON.stringify([admin.grant, agentGrant.grant]), LOG_LEVEL: "warn" },
  });
  agent = spawn(
    process.execPath,
    ["agent/bin/theory.js", "agent", "--control-plane", controlPlane.url, "--agent-id", AGENT],
    {
      cwd: root,
      env: { ...process.env, THEORY_HOME: join(work, "home"), THEORY_AGENT_TOKEN: agentToken },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  for (let i = 0; i < 100; i++) {
    const list = (await (await fetch(`${controlPlane.url}/v1/agents`, { headers })).json()) as any;
    if (list.agents?.[0]?.online) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  agent?.kill("SIGTERM");
  await theory(["localctl", "stop", "--ref", "echo/text@1"]).catch(() => {});
  await docker("rm", "-f", NAME).catch(() => "");
  await controlPlane?.stop();
  await rm(work, { recursive: true, force: true });
});

describe("local parity: control plane + theory agent + a localctl-started container", () => {
  it("lists the agent with the started tool, healthy, at the digest localctl resolved", async () => {
    const list = (await (await fetch(`${controlPlane.url}/v1/agents`, { headers })).json()) as any;
    expect(list.agents).toEqual([
      expect.objectContaining({
        agent_id: AGENT,
        online: true,
        tools: [expect.objectContaining({ ref: "echo/text@1", healthy: true })],
      }),
    ]);
  });

  it("POST /v1/runs target local gives the same envelope bytes as `localctl run` for the same run_id", async () => {
    const inputs = echoInputs("parity");
    const body = {
      ref: "echo/text@1",
      run_id: "parity-1",
      mode: "mock",
      inputs,
      target: "local",
      agent: AGENT,
      artifact_scope: "local",
    };
    const response = await fetch(`${controlPlane.url}/v1/runs`, {
      method: "POST",
      headers: { ...headers, Prefer: "wait=30" },
      body: JSON.stringify(body),
    });
    expect(((await response.json()) as any).state).toBe("succeeded");
    const throughControlPlane = await (
      await fetch(`${controlPlane.url}/v1/runs/parity-1/envelope`, { headers })
    ).text();
    const direct = await theory([
      "localctl",
      "run",
      "--ref",
      "echo/text@1",
      "--mode",
      "mock",
      "--run-id",
      "parity-1",
      "--inputs-json",
      JSON.stringify(inputs),
    ]);
    expect(direct.code ?? 0).toBe(0);
    expect(direct.stdout.trimEnd()).toBe(throughControlPlane);
  });

  it("a tool this agent has not started -> ERR_HEALTH through the control plane", async () => {
    const body = {
      ref: "llm/litellm@1",
      run_id: "parity-2",
      mode: "mock",
      inputs: llmInputs("x"),
      target: "local",
      agent: AGENT,
      artifact_scope: "local",
    };
    const response = await fetch(`${controlPlane.url}/v1/runs`, {
      method: "POST",
      headers: { ...headers, Prefer: "wait=30" },
      body: JSON.stringify(body),
    });
    expect(((await response.json()) as any).envelope.error.code).toBe("ERR_HEALTH");
  });
});
