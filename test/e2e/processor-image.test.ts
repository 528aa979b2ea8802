import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderReport, runConformance } from "../../agent/conformance/kit.ts";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { freePort } from "../../scripts/lib/local-stack.ts";
import { HEALTH_BACKOFF } from "../../src/core/backoff.ts";
import { pollHealth } from "../../src/core/health.ts";
import { toolDefinition } from "../../src/core/tool-inputs.ts";
import {
  converse,
  payloadFor,
  postJson,
  type RunningProcessor,
  runOpen,
  startProcessor,
} from "../support/processor.ts";
import { TEST_PROCESSOR_TOKEN } from "../support/tokens.ts";
import { docker } from "./support/docker.ts";

const ENV_FINGERPRINT = "cpu:1;memory:2Gi";
let container = "";
let base = "";
let hostArtifacts = "";
let source: RunningProcessor;

async function waitHealthy(url: string): Promise<void> {
  if ((await pollHealth(url, { policy: HEALTH_BACKOFF })).state !== "healthy")
    throw new Error(`not healthy: ${url}\n${await docker("logs", container).catch(() => "")}`);
}

beforeAll(async () => {
  const digest = inject("processorImageId");
  const port = await freePort();
  hostArtifacts = await mkdtemp(join(tmpdir(), "theory-e2e-artifacts-"));
  await chmod(hostArtifacts, 0o777); // the image runs as uid 1000
  container = await docker(
    "run",
    "-d",
    "--network",
    "host",
    "-e",
    `PORT=${port}`,
    "-e",
    "TOOL_REF=llm/litellm@1",
    "-e",
    `IMAGE_DIGEST=${digest}`,
    "-e",
    `ENV_FINGERPRINT=${ENV_FINGERPRINT}`,
    "-e",
    `PROCESSOR_TOKEN=${TEST_PROCESSOR_TOKEN}`,
    "-v",
    `${hostArtifacts}:/artifacts`,
    inject("processorImage"),
  );
  base = `127.0.0.1:${port}`;
  await waitHealthy(`http://${base}`);
  source = await startProcessor({ toolRef: "llm/litellm@1", env: { IMAGE_DIGEST: digest, ENV_FINGERPRINT } });
});

afterAll(async () => {
  if (container) await docker("rm", "-f", container);
  await source?.close();
  await rm(hostArtifacts, { recursive: true, force: true });
});

describe("the processor OCI image (built from processor/Dockerfile, run with --network host)", () => {
  it("answers /healthz", async () => {
    expect(await (await fetch(`http://${base}/healthz`)).json()).toEqual({ ok: true });
  });

  it("runs over WebSocket, writes the artifacts, and gives the same bytes as the processor run from source", async () => {
    const payload = payloadFor("llm/litellm@1", "image-1", llmInputs("hi", { max_tokens: 7 }));
    const fromImage = await converse(`ws://${base}/run`, [runOpen(payload)]);
    expect(fromImage.code).toBe(1000);
    expect(fromImage.frames.map((f) => f.kind)).toEqual(["Ack", ...Array(7).fill("Token"), "RunResult"]);
    const fromSource = await converse(source.ws, [runOpen(payload)]);
    expect(fromImage.texts).toEqual(fromSource.texts);
    const written = await readFile(
      join(hostArtifacts, "outputs/llm.litellm.1/image-1/text/response.txt"),
      "utf8",
    );
    expect(written).toBe(
      fromImage.frames
        .filter((f) => f.kind === "Token")
        .map((f) => f.content.text)
        .join(""),
    );
  });

  it("passes the conformance kit, files checked through the mounted artifacts folder", async () => {
    const result = await runConformance({
      url: `http://${base}`,
      token: TEST_PROCESSOR_TOKEN,
      tool: toolDefinition("llm/litellm@1"),
      artifactsDir: hostArtifacts,
      imageDigest: inject("processorImageId"),
      envFingerprint: ENV_FINGERPRINT,
    });
    expect(
      result.checks.filter((check) => check.status !== "pass"),
      renderReport(result),
    ).toEqual([]);
  });

  it("answers HTTP contract errors from inside the container (415, 400)", async () => {
    expect((await postJson(`http://${base}/run`, "{}", { "content-type": "text/plain" })).status).toBe(415);
    expect((await postJson(`http://${base}/run`, "{oops")).status).toBe(400);
  });
});
