import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/local-stack.ts";
import { EnvelopeSchema } from "../../src/contract/envelope.ts";
import { docker } from "./support/docker.ts";

const root = join(import.meta.dirname, "..", "..");
const homes: string[] = [];

async function demo(port: number) {
  const home = await mkdtemp(join(tmpdir(), "theory-demo-e2e-"));
  homes.push(home);
  const result = await promisify(execFile)(process.execPath, ["scripts/demo.ts", "--once"], {
    cwd: root,
    env: { ...process.env, THEORY_HOME: home, THEORY_DEMO_PORT: String(port) },
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
    (error) => ({
      code: error.code as number,
      stdout: error.stdout as string,
      stderr: error.stderr as string,
    }),
  );
  return { ...result, home };
}

const demoContainers = async () =>
  (
    await docker(
      "ps",
      "-a",
      "--filter",
      "name=^/theory-(echo.text.1|llm.litellm.1)$",
      "--format",
      "{{.Names}}",
    )
  )
    .split("\n")
    .filter(Boolean);

afterAll(async () => {
  for (const home of homes) await rm(home, { recursive: true, force: true });
});

describe("npm start (the one-command demo)", () => {
  it("brings the stack up, runs one of each tool through the API, prints both envelopes, stops everything", async () => {
    const { code, stdout, stderr } = await demo(await freePort());
    expect(code, stderr.slice(-2000)).toBe(0);
    const envelopes = stdout
      .trim()
      .split("\n")
      .map((line) => EnvelopeSchema.parse(JSON.parse(line)));
    expect(envelopes.map((e) => e.status)).toEqual(["success", "success"]);
    expect(envelopes.map((e) => (e.status === "success" ? e.outputs[0]?.path : ""))).toEqual([
      expect.stringMatching(/^local:\/\/outputs\/echo\.text\.1\/.+\/text\/echo\.txt$/),
      expect.stringMatching(/^local:\/\/outputs\/llm\.litellm\.1\/.+\/text\/response\.txt$/),
    ]);
    expect(stderr).toContain('"event":"demo.ready"');
    expect(await demoContainers()).toEqual([]);
  });

  it("fails with a named error and leaves nothing running when its port is taken", async () => {
    const busy = createServer((_req, res) => res.end("taken"));
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    try {
      const { code, stdout, stderr } = await demo((busy.address() as AddressInfo).port);
      expect(code).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toContain('"event":"error.demo"');
      expect(await demoContainers()).toEqual([]);
    } finally {
      busy.close();
    }
  });
});
