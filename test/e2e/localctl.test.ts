import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { echoInputs } from "../../scripts/lib/inputs.ts";
import { freePort } from "../../scripts/lib/local-stack.ts";
import { canonicalJson } from "../../src/core/canonical.ts";
import { payloadFor, postJson, startProcessor } from "../support/processor.ts";
import { docker } from "./support/docker.ts";

const root = join(import.meta.dirname, "..", "..");
const REPO = "127.0.0.1:5000/theory/localctl-e2e";
const PLATFORM = process.arch === "arm64" ? "arm64" : "amd64";
const OTHER_PLATFORM = PLATFORM === "amd64" ? "arm64" : "amd64";
const ABSENT = `${REPO}@sha256:${"0".repeat(63)}1`;
/** Every container this file may start; removed whatever happens. */
const NAMES = {
  echo: "theory-echo.text.1-e2e",
  llm: "theory-llm.litellm.1-e2e",
  broken: "theory-e2e.broken.1-e2e",
};
const ECHO_FINGERPRINT = "cpu:0.25;memory:256Mi";

let work = "";
let registryFile = "";
/** The digest the registry copy pins, and another image's digest (pushed, never pinned). */
let pinned = "";
let other = "";
const ports = { echo: 0, llm: 0, broken: 0 };

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI in a subprocess, as a user runs it, with its own THEORY_HOME and no inherited secrets. */
function localctl(
  home: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; interruptOn?: string } = {},
): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, THEORY_HOME: home, ...options.env };
  for (const name of ["LITELLM_API_KEY", "LITELLM_BASE_URL", "THEORY_REGISTRY"])
    if (!options.env?.[name]) delete env[name];
  if (!options.env?.DOCKER_HOST) delete env.DOCKER_HOST;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["agent/bin/theory.js", "localctl", ...args, "--registry", registryFile, "--json"],
      { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => {
      const seen = stderr.includes(options.interruptOn ?? "\0");
      stderr += chunk;
      // Ctrl-C, once, shortly after the CLI logged the event named (the run is acknowledged by then).
      if (options.interruptOn && !seen && stderr.includes(options.interruptOn))
        setTimeout(() => child.kill("SIGINT"), 300);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

const json = (result: CliResult) => JSON.parse(result.stdout);
const errorCode = (result: CliResult) => json(result).error?.code;

async function containerExists(name: string): Promise<boolean> {
  return (await docker("ps", "-a", "--filter", `name=^/${name}$`, "--format", "{{.ID}}")) !== "";
}

/** Tags and pushes `image` to the local OCI registry; returns the manifest digest the push reported. */
async function push(image: string, tag: string): Promise<string> {
  await docker("tag", image, `${REPO}:${tag}`);
  const output = await docker("push", `${REPO}:${tag}`);
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(output)?.[1];
  if (!digest) throw new Error(`no digest in the push output:\n${output}`);
  return digest;
}

const home = (name: string) => join(work, name);

beforeAll(async () => {
  const ensure = join(root, "scripts/docker/ensure-image-registry.sh");
  if (!existsSync(ensure)) throw new Error("scripts/docker/ensure-image-registry.sh is missing");
  await promisify(execFile)("bash", [ensure], { cwd: root });
  work = await mkdtemp(join(tmpdir(), "theory-localctl-e2e-"));
  pinned = await push(inject("processorImage"), "main");
  // A second image (one more label): the same processor under a digest the registry does not pin.
  await writeFile(join(work, "Dockerfile"), `FROM ${inject("processorImage")}\nLABEL theory.e2e=other\n`);
  await docker("build", "-q", "-t", `${REPO}:other`, work);
  other = await push(`${REPO}:other`, "other");
  ports.echo = await freePort();
  ports.llm = await freePort();
  ports.broken = await freePort();
  const entry = (port: number, extra: object) => ({
    image: REPO,
    digests: { [PLATFORM]: pinned },
    port,
    resources: { cpu: 0.25, memory: "256Mi" },
    secrets: [],
    schema: "schema/tools/echo.text.1.json",
    timeout_s: 30,
    modal: { app: "theory-e2e" },
    ...extra,
  });
  registryFile = join(work, "registry.yaml");
  await writeFile(
    registryFile,
    stringify({
      schema: "v1",
      tools: {
        "echo/text@1": entry(ports.echo, {}),
        "llm/litellm@1": entry(ports.llm, {
          resources: { cpu: 1, memory: "2Gi" },
          secrets: ["LITELLM_API_KEY", "LITELLM_BASE_URL"],
          schema: "schema/tools/llm.litellm.1.json",
        }),
        // The image does not carry this tool: its container exits at once and is never healthy.
        "e2e/broken@1": entry(ports.broken, { schema: "schema/tools/e2e.broken.1.json" }),
      },
    }),
  );
});

afterAll(async () => {
  for (const name of Object.values(NAMES)) await docker("rm", "-f", name).catch(() => undefined);
  await docker("image", "rm", `${REPO}:main`, `${REPO}:other`).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe("localctl start: everything is checked before a container exists", () => {
  it("requires --platform, a pin for it (or --oci), and --oci by digest", async () => {
    const noPlatform = await localctl(home("checks"), ["start", "--ref", "echo/text@1"]);
    expect([noPlatform.code, errorCode(noPlatform)]).toEqual([2, "ERR_INPUTS"]);
    const unpinned = await localctl(home("checks"), [
      "start",
      "--ref",
      "echo/text@1",
      "--platform",
      OTHER_PLATFORM,
    ]);
    expect([unpinned.code, json(unpinned).error.message]).toEqual([
      2,
      expect.stringContaining("imagectl pin"),
    ]);
    const tagged = await localctl(home("checks"), [
      "start",
      "--ref",
      "echo/text@1",
      "--platform",
      PLATFORM,
      "--oci",
      `${REPO}:main`,
    ]);
    expect([tagged.code, errorCode(tagged)]).toEqual([2, "ERR_INPUTS"]);
    const unknown = await localctl(home("checks"), ["start", "--ref", "nope/none@1", "--platform", PLATFORM]);
    expect(unknown.code).toBe(2);
  });

  it("ERR_DOCKER (exit 11) when the engine is unreachable", async () => {
    const result = await localctl(home("checks"), ["start", "--ref", "echo/text@1", "--platform", PLATFORM], {
      env: { DOCKER_HOST: "unix:///nonexistent.sock" },
    });
    expect([result.code, errorCode(result)]).toEqual([11, "ERR_DOCKER"]);
  });

  it("ERR_IMAGE_NOT_FOUND (exit 8) for a digest that is not present locally: no pull, no build", async () => {
    const result = await localctl(home("checks"), [
      "start",
      "--ref",
      "echo/text@1",
      "--platform",
      PLATFORM,
      "--oci",
      ABSENT,
      "--name",
      NAMES.echo,
    ]);
    expect([result.code, errorCode(result)]).toEqual([8, "ERR_IMAGE_NOT_FOUND"]);
    expect(await containerExists(NAMES.echo)).toBe(false);
  });

  it("ERR_MISSING_SECRET (exit 6) before anything starts", async () => {
    const result = await localctl(
      home("checks"),
      ["start", "--ref", "llm/litellm@1", "--platform", PLATFORM, "--name", NAMES.llm],
      { env: { LITELLM_BASE_URL: "http://127.0.0.1:9" } },
    );
    expect([result.code, errorCode(result)]).toEqual([6, "ERR_MISSING_SECRET"]);
    expect(json(result).error.message).toContain("LITELLM_API_KEY");
    expect(await containerExists(NAMES.llm)).toBe(false);
  });

  it("ERR_CONFLICT (exit 5) when another process holds the ref's port: no container", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(ports.broken, "127.0.0.1", resolve));
    try {
      const result = await localctl(home("broken"), [
        "start",
        "--ref",
        "e2e/broken@1",
        "--platform",
        PLATFORM,
        "--name",
        NAMES.broken,
      ]);
      expect([result.code, json(result).error.message]).toEqual([
        5,
        expect.stringContaining(`port ${ports.broken}`),
      ]);
      expect(await containerExists(NAMES.broken)).toBe(false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("ERR_HEALTH (exit 9) when the container never gets healthy; it is removed and not recorded", async () => {
    const result = await localctl(home("broken"), [
      "start",
      "--ref",
      "e2e/broken@1",
      "--platform",
      PLATFORM,
      "--name",
      NAMES.broken,
    ]);
    expect([result.code, errorCode(result)]).toEqual([9, "ERR_HEALTH"]);
    expect(result.stderr).toContain("adapter.health.error");
    expect(await containerExists(NAMES.broken)).toBe(false);
    const status = await localctl(home("broken"), ["status", "--ref", "e2e/broken@1"]);
    expect(status.code).toBe(4);
  });
});

describe("localctl run without a started container", () => {
  it("settles ERR_HEALTH (exit 9) with an error envelope on stdout, starting nothing", async () => {
    const result = await localctl(home("idle"), [
      "run",
      "--ref",
      "echo/text@1",
      "--mode",
      "mock",
      "--run-id",
      "idle-1",
      "--inputs-json",
      '{"schema":"v1","params":{"text":"hi"}}',
    ]);
    expect(result.code).toBe(9);
    expect(json(result)).toEqual({
      status: "error",
      run_id: "idle-1",
      error: {
        code: "ERR_HEALTH",
        message: expect.stringContaining("theory localctl start --ref echo/text@1"),
      },
      meta: { env_fingerprint: ECHO_FINGERPRINT },
    });
    expect(result.stdout).toBe(`${canonicalJson(json(result))}\n`);
  });

  it("rejects more than one inputs flag (exit 2) before looking for the container", async () => {
    const result = await localctl(home("idle"), [
      "run",
      "--ref",
      "echo/text@1",
      "--mode",
      "mock",
      "--inputs-json",
      "{}",
      "--inputs",
      "-",
    ]);
    expect([result.code, errorCode(result)]).toEqual([2, "ERR_INPUTS"]);
  });
});

describe("localctl start -> status -> run -> logs -> stop (echo/text@1, the pinned digest)", () => {
  const h = () => home("main");
  const start = () =>
    localctl(h(), ["start", "--ref", "echo/text@1", "--platform", PLATFORM, "--name", NAMES.echo]);

  it("start: by the pinned digest, host network, declared limits, the contract's env, recorded", async () => {
    const result = await start();
    expect(result.code, result.stderr).toBe(0);
    const started = json(result);
    expect(started).toEqual({
      ref: "echo/text@1",
      platform: PLATFORM,
      container_id: expect.stringMatching(/^[a-f0-9]{64}$/),
      port: ports.echo,
      image_digest: pinned,
    });
    const [info] = JSON.parse(await docker("inspect", NAMES.echo));
    expect(info.Id).toBe(started.container_id);
    expect(info.State.Running).toBe(true);
    expect(info.Config.Image).toBe(`${REPO}@${pinned}`);
    expect(info.HostConfig).toMatchObject({
      NetworkMode: "host",
      NanoCpus: 250_000_000,
      Memory: 256 * 2 ** 20,
    });
    expect(info.HostConfig.Binds).toEqual([`${join(h(), "artifacts")}:/artifacts`]);
    expect(info.Config.Env).toEqual(
      expect.arrayContaining([
        "TOOL_REF=echo/text@1",
        `PORT=${ports.echo}`,
        `IMAGE_DIGEST=${pinned}`,
        `ENV_FINGERPRINT=${ECHO_FINGERPRINT}`,
        "ARTIFACTS_ROOT=/artifacts",
      ]),
    );
    expect((await stat(join(h(), "artifacts"))).mode & 0o777).toBe(0o777);
    const state = JSON.parse(await readFile(join(h(), "local", "containers.json"), "utf8"));
    expect(state.containers["echo/text@1"]).toEqual({
      ref: "echo/text@1",
      platform: PLATFORM,
      container_id: started.container_id,
      name: NAMES.echo,
      port: ports.echo,
      image: `${REPO}@${pinned}`,
      image_digest: pinned,
      processor_token: expect.stringMatching(/^tpt_[A-Za-z0-9_-]{43}$/),
      started_at: expect.any(String),
    });
    // The token it generated: in the container's env and the owner-only state file, never in a log.
    const token = state.containers["echo/text@1"].processor_token;
    expect(info.Config.Env).toContain(`PROCESSOR_TOKEN=${token}`);
    expect((await stat(join(h(), "local", "containers.json"))).mode & 0o777).toBe(0o600);
    expect(result.stderr + result.stdout).not.toContain(token);
  });

  it("the started container refuses a run with another token (401 ERR_AUTH); /healthz stays open", async () => {
    const base = `http://127.0.0.1:${ports.echo}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const refused = await postJson(`${base}/run`, payloadFor("echo/text@1", "no-token", echoInputs("x")));
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.text).error.code).toBe("ERR_AUTH");
  });

  it("start again: ERR_CONFLICT (exit 5), the running container untouched", async () => {
    const result = await start();
    expect([result.code, json(result).error.message]).toEqual([5, expect.stringContaining("localctl stop")]);
    expect(JSON.parse(await docker("inspect", NAMES.echo))[0].State.Running).toBe(true);
  });

  it("status: running and healthy, for the ref and in the list of all", async () => {
    const one = await localctl(h(), ["status", "--ref", "echo/text@1"]);
    expect(one.code).toBe(0);
    expect(json(one)).toEqual({
      ref: "echo/text@1",
      running: true,
      healthy: true,
      port: ports.echo,
      image_digest: pinned,
      container_id: expect.any(String),
    });
    const all = await localctl(h(), ["status"]);
    expect(json(all)).toEqual({ containers: [json(one)] });
    const other = await localctl(h(), ["status", "--ref", "llm/litellm@1"]);
    expect([other.code, errorCode(other)]).toEqual([4, "ERR_NOT_FOUND"]);
  });

  it("run: stdout is exactly the canonical envelope the processor gives in-process; artifacts on disk", async () => {
    const inputs = echoInputs("hello from localctl");
    const result = await localctl(h(), [
      "run",
      "--ref",
      "echo/text@1",
      "--mode",
      "mock",
      "--run-id",
      "main-1",
      "--inputs-json",
      JSON.stringify(inputs),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const source = await startProcessor({
      toolRef: "echo/text@1",
      env: { IMAGE_DIGEST: pinned, ENV_FINGERPRINT: ECHO_FINGERPRINT },
    });
    try {
      const direct = await postJson(`${source.http}/run`, payloadFor("echo/text@1", "main-1", inputs));
      expect(result.stdout).toBe(`${direct.text}\n`);
    } finally {
      await source.close();
    }
    expect(json(result)).toMatchObject({
      status: "success",
      outputs: [{ path: "local://outputs/echo.text.1/main-1/text/echo.txt" }],
      meta: { image_digest: pinned, env_fingerprint: ECHO_FINGERPRINT },
    });
    const written = join(h(), "artifacts/outputs/echo.text.1/main-1");
    expect(await readFile(join(written, "text/echo.txt"), "utf8")).toBe("hello from localctl");
    expect(JSON.parse(await readFile(join(written, "outputs.json"), "utf8"))).toBeTruthy();
    expect(result.stderr).toContain('"event":"ws.run.settle"');
  });

  it("run: inputs from stdin with --inputs -, into a chosen write_prefix", async () => {
    const result = await localctl(
      h(),
      [
        "run",
        "--ref",
        "echo/text@1",
        "--mode",
        "mock",
        "--run-id",
        "main-2",
        "--inputs",
        "-",
        "--write-prefix",
        "/artifacts/mine/main-2",
      ],
      { stdin: '{"schema":"v1","params":{"text":"piped"}}' },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(json(result).outputs).toEqual([{ path: "local://mine/main-2/text/echo.txt" }]);
    expect(await readFile(join(h(), "artifacts/mine/main-2/text/echo.txt"), "utf8")).toBe("piped");
  });

  it("run: inputs the tool's schema refuses are ERR_INPUTS (exit 2) before any connection, naming the field", async () => {
    const result = await localctl(h(), [
      "run",
      "--ref",
      "echo/text@1",
      "--mode",
      "mock",
      "--run-id",
      "main-3",
      "--inputs-json",
      '{"schema":"v1","params":{}}',
    ]);
    expect(result.code).toBe(2);
    expect(json(result)).toMatchObject({
      status: "error",
      error: { code: "ERR_INPUTS", message: expect.stringContaining("inputs.params.text") },
    });
  });

  it("logs: the container's output, demultiplexed; --tail limits it", async () => {
    const result = await localctl(h(), ["logs", "--ref", "echo/text@1"]);
    expect(result.code).toBe(0);
    const { logs } = json(result);
    expect(logs).toContain('"event":"processor.listen"');
    for (const line of logs.trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
    const tail = json(await localctl(h(), ["logs", "--ref", "echo/text@1", "--tail", "1"]));
    expect(tail.logs.trim().split("\n")).toHaveLength(1);
  });

  it("stop: removes the container and the record; then stop, status, logs are ERR_NOT_FOUND and run ERR_HEALTH", async () => {
    const result = await localctl(h(), ["stop", "--ref", "echo/text@1"]);
    expect(result.code).toBe(0);
    expect(await containerExists(NAMES.echo)).toBe(false);
    for (const args of [
      ["stop", "--ref", "echo/text@1"],
      ["status", "--ref", "echo/text@1"],
      ["logs", "--ref", "echo/text@1"],
    ]) {
      const again = await localctl(h(), args);
      expect([again.code, errorCode(again)]).toEqual([4, "ERR_NOT_FOUND"]);
    }
    expect(json(await localctl(h(), ["status"]))).toEqual({ containers: [] });
    const run = await localctl(h(), [
      "run",
      "--ref",
      "echo/text@1",
      "--mode",
      "mock",
      "--inputs-json",
      '{"schema":"v1","params":{"text":"x"}}',
    ]);
    expect(run.code).toBe(9);
  });
});

describe("localctl with --oci of another digest than the pin (llm/litellm@1, dummy secrets)", () => {
  const h = () => home("mismatch");
  const secrets = { LITELLM_API_KEY: "dummy-key", LITELLM_BASE_URL: "http://127.0.0.1:9/v1" };
  const slow =
    '{"schema":"v1","params":{"messages":[{"role":"user","content":"hi"}],"max_tokens":40,"token_delay_ms":100}}';
  const run = (
    runId: string,
    extra: string[] = [],
    inputs = '{"schema":"v1","params":{"messages":[{"role":"user","content":"hi"}],"max_tokens":3}}',
  ) =>
    localctl(h(), [
      "run",
      "--ref",
      "llm/litellm@1",
      "--mode",
      "mock",
      "--run-id",
      runId,
      "--inputs-json",
      inputs,
      ...extra,
    ]);

  it("start injects the secrets and the digest it started", async () => {
    const result = await localctl(
      h(),
      [
        "start",
        "--ref",
        "llm/litellm@1",
        "--platform",
        PLATFORM,
        "--oci",
        `${REPO}@${other}`,
        "--name",
        NAMES.llm,
      ],
      { env: secrets },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(json(result).image_digest).toBe(other);
    const [info] = JSON.parse(await docker("inspect", NAMES.llm));
    expect(info.Config.Env).toEqual(
      expect.arrayContaining([
        "LITELLM_API_KEY=dummy-key",
        `LITELLM_BASE_URL=${secrets.LITELLM_BASE_URL}`,
        `IMAGE_DIGEST=${other}`,
        "ENV_FINGERPRINT=cpu:1;memory:2Gi",
      ]),
    );
    expect(result.stderr).not.toContain("dummy-key");
  });

  it("run fails closed: ERR_REGISTRY_MISMATCH in the envelope on stdout, exit 10", async () => {
    const result = await run("mm-1");
    expect(result.code).toBe(10);
    expect(json(result)).toMatchObject({
      status: "error",
      run_id: "mm-1",
      error: { code: "ERR_REGISTRY_MISMATCH" },
      meta: { image_digest: other },
    });
    expect(result.stdout).toBe(`${canonicalJson(json(result))}\n`);
  });

  it("the spec's own example command runs verbatim (inputs {schema, params.messages})", async () => {
    // theory localctl run --ref llm/litellm@1 --mode mock --inputs-json '{"schema":"v1","params":{"messages":[…]}}'
    const result = await localctl(h(), [
      "run",
      "--ref",
      "llm/litellm@1",
      "--mode",
      "mock",
      "--inputs-json",
      '{"schema":"v1","params":{"messages":[{"role":"user","content":"test"}]}}',
      "--expected-oci",
      `${REPO}@${other}`,
    ]);
    expect(result.code, result.stdout).toBe(0);
    expect(json(result)).toMatchObject({ status: "success", meta: { image_digest: other } });
  });

  it("inputs the tool refuses are ERR_INPUTS (exit 2) before any connection, naming the field", async () => {
    const result = await run("mm-bad", [], '{"schema":"v1","params":{"messages":[]}}');
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).error.message).toContain("inputs.params.messages");
  });

  it("run with --expected-oci naming the started digest succeeds", async () => {
    const result = await run("mm-2", ["--expected-oci", `${REPO}@${other}`]);
    expect(result.code, result.stdout).toBe(0);
    expect(json(result)).toMatchObject({ status: "success", meta: { image_digest: other } });
  });

  it("--timeout bounds a run: a slower stream settles ERR_WS_TIMEOUT, exit 12", async () => {
    const started = Date.now();
    const result = await run("mm-3", ["--expected-oci", `${REPO}@${other}`, "--timeout", "1"], slow);
    expect(result.code).toBe(12);
    expect(errorCode(result)).toBe("ERR_WS_TIMEOUT");
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("Ctrl-C cancels a run in flight: the processor's own ERR_CANCELED envelope, exit 13", async () => {
    const result = await localctl(
      h(),
      [
        "run",
        "--ref",
        "llm/litellm@1",
        "--mode",
        "mock",
        "--run-id",
        "mm-4",
        "--inputs-json",
        slow,
        "--expected-oci",
        `${REPO}@${other}`,
      ],
      { interruptOn: '"event":"ws.connect.ok"' },
    );
    expect(result.code, result.stderr).toBe(13);
    // Canceled after Ack: the processor answered the Cancel itself, so its digest is in the envelope.
    expect(json(result)).toMatchObject({
      status: "error",
      run_id: "mm-4",
      error: { code: "ERR_CANCELED" },
      meta: { image_digest: other },
    });
  });

  it("stop", async () => {
    expect((await localctl(h(), ["stop", "--ref", "llm/litellm@1"])).code).toBe(0);
    expect(await containerExists(NAMES.llm)).toBe(false);
  });
});
