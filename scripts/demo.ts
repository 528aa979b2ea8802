// npm start — the main job in one command: the whole stack on this machine, one run of each tool
// through the API, the envelopes on stdout, then everything stays up until Ctrl-C (or, with --once,
// is stopped right away). Progress and "where to look next" go to stderr as NDJSON.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { arch } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLogger } from "../src/core/log.ts";
import { echoInputs, llmInputs } from "./lib/inputs.ts";
import { type LocalProcess, makeGrant, startControlPlane } from "./lib/local-stack.ts";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..");
const once = process.argv.includes("--once");
const home = process.env.THEORY_HOME ?? join(root, ".theory", "demo");
const platform = arch() === "arm64" ? "arm64" : "amd64";
const port = Number(process.env.THEORY_DEMO_PORT ?? 8787);
const AGENT = "demo-box";
const TOOLS = ["echo/text@1", "llm/litellm@1"] as const;
// llm/litellm@1 declares its API key and base URL as required secrets; the demo runs it in mode
// mock, which never reads them, so it starts it with placeholders that say so.
const MOCK_ONLY_SECRETS = {
  LITELLM_API_KEY: "unused-in-mock-mode",
  LITELLM_BASE_URL: "http://127.0.0.1:9/unused-in-mock-mode",
};
const log = createLogger({ fields: { target: "demo" } });

async function step<T>(event: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  log.info(`${event}.start`);
  try {
    const result = await work();
    log.info(`${event}.ok`, { elapsed_ms: Date.now() - started });
    return result;
  } catch (error) {
    const detail = error as { stdout?: string; stderr?: string; message: string };
    log.error(`error.${event}`, {
      message: (detail.stdout || detail.stderr || detail.message).trim().slice(-800),
    });
    throw error;
  }
}

/** The `theory` CLI, as a user would call it; returns its JSON result. */
async function theory(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const { stdout } = await exec(
    process.execPath,
    [join(root, "agent", "bin", "theory.js"), ...args, "--json"],
    {
      cwd: root,
      env: { ...process.env, THEORY_HOME: home, ...env },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout);
}

const script = (name: string) => exec("bash", [join(root, "scripts", "docker", name)], { cwd: root });

let controlPlane: LocalProcess | undefined;
let agent: ChildProcess | undefined;
const started: string[] = [];

async function stopAll(): Promise<void> {
  agent?.kill("SIGTERM");
  for (const ref of started) await theory(["localctl", "stop", "--ref", ref]).catch(() => {});
  await controlPlane?.stop();
  log.info("demo.stopped");
}

try {
  await mkdir(home, { recursive: true });
  await step("docker.engine", () => script("ensure-engine.sh"));
  await step("image_registry", () => script("ensure-image-registry.sh"));
  await step("image.base", () => script("make-node-base.sh"));
  await step("image.build", () =>
    theory([
      "imagectl",
      "build",
      "--ref",
      TOOLS[0],
      "--platform",
      platform,
      "--base-image",
      "theory/node-base:24",
    ]),
  );
  const pushed = await step("image.push", () =>
    theory(["imagectl", "push", "--ref", TOOLS[0], "--platform", platform]),
  );
  for (const ref of TOOLS) {
    // One image carries both tools; each runs from it by digest.
    await step(`localctl.start.${ref}`, () =>
      theory(
        ["localctl", "start", "--ref", ref, "--platform", platform, "--oci", String(pushed.image)],
        MOCK_ONLY_SECRETS,
      ),
    );
    started.push(ref);
  }
  const admin = makeGrant("demo-admin");
  const agentGrant = makeGrant("demo-agent", ["agents:connect"], AGENT);
  await writeFile(join(home, "token"), `${admin.token}\n`, { mode: 0o600 });
  controlPlane = await step("control_plane.start", () =>
    startControlPlane({
      port,
      vars: { AUTH_TOKENS: JSON.stringify([admin.grant, agentGrant.grant]), LOG_LEVEL: "warn" },
      stateDir: join(home, "control-plane"),
    }),
  );
  const cp = controlPlane;
  const headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
  agent = spawn(
    process.execPath,
    [join(root, "agent", "bin", "theory.js"), "agent", "--control-plane", cp.url, "--agent-id", AGENT],
    {
      cwd: root,
      env: { ...process.env, THEORY_HOME: home, THEORY_AGENT_TOKEN: agentGrant.token },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  await step("agent.online", async () => {
    for (let i = 0; i < 100; i++) {
      const list = (await (await fetch(`${cp.url}/v1/agents`, { headers })).json()) as {
        agents: { online: boolean; tools: unknown[] }[];
      };
      if (list.agents[0]?.online && list.agents[0].tools.length === TOOLS.length) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("the agent did not come online");
  });
  const inputs = {
    "echo/text@1": echoInputs("hello from the Theory demo"),
    "llm/litellm@1": llmInputs("Say hello", { max_tokens: 12 }),
  };
  for (const ref of TOOLS) {
    const runId = `demo-${ref.replace(/[/@]/g, "-")}-${Date.now().toString(36)}`;
    const body = {
      ref,
      run_id: runId,
      mode: "mock",
      inputs: inputs[ref],
      target: "local",
      agent: AGENT,
      artifact_scope: "local",
    };
    await step(`run.${ref}`, async () => {
      const response = await fetch(`${cp.url}/v1/runs`, {
        method: "POST",
        headers: { ...headers, Prefer: "wait=30" },
        body: JSON.stringify(body),
      });
      const resource = (await response.json()) as { state: string };
      if (resource.state !== "succeeded")
        throw new Error(`run ${runId} ended ${resource.state}: ${JSON.stringify(resource)}`);
    });
    process.stdout.write(
      `${await (await fetch(`${cp.url}/v1/runs/${runId}/envelope`, { headers })).text()}\n`,
    );
  }
  log.info("demo.ready", {
    control_plane: cp.url,
    auth_file: join(home, "token"),
    dashboard: `${cp.url}/ (sign in with the token in ${join(home, "token")})`,
    artifacts: join(home, "artifacts", "outputs"),
    try: `THEORY_TOKEN=$(cat ${join(home, "token")}) npx theory run --control-plane ${cp.url} --ref llm/litellm@1 --target local --agent ${AGENT} --inputs-json '{"schema":"v1","params":{"messages":[{"role":"user","content":"hi"}],"max_tokens":50,"token_delay_ms":50}}'`,
    api: `curl -H "Authorization: Bearer $(cat ${join(home, "token")})" ${cp.url}/v1/agents`,
    stop: once ? "stopping now (--once)" : "Ctrl-C stops everything this started",
  });
  if (!once) {
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
  }
  await stopAll();
} catch (error) {
  await stopAll();
  log.error("error.demo", {
    message: (error as Error).message.slice(0, 500),
    fix: "see the error.* line above; the Docker engine needs root to install (sudo npm start) or a running dockerd",
  });
  process.exitCode = 1;
}
