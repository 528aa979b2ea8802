import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { echoInputs } from "../../../scripts/lib/inputs.ts";
import { expectConformant } from "../../support/conformance.ts";
import { payloadFor, postJson, type RunningProcessor, startProcessor } from "../../support/processor.ts";

let echo: RunningProcessor;
let outside: string;
beforeAll(async () => {
  echo = await startProcessor({ toolRef: "echo/text@1" });
  outside = await mkdtemp(join(tmpdir(), "theory-outside-"));
});
afterAll(async () => {
  await echo.close();
  await rm(outside, { recursive: true, force: true });
});

const run = async (runId: string, extra: object = {}) =>
  JSON.parse(
    (await postJson(`${echo.http}/run`, payloadFor("echo/text@1", runId, echoInputs("x"), extra))).text,
  );
const runDir = (runId: string) => join(echo.artifactsRoot, "outputs/echo.text.1", runId);

describe("artifact paths", () => {
  it("writes under a custom write_prefix and reports local:// URIs relative to /artifacts/", async () => {
    const envelope = await run("custom-1", { write_prefix: "/artifacts/team-a/custom-1/" });
    expect(envelope.outputs).toEqual([{ path: "local://team-a/custom-1/text/echo.txt" }]);
    expect(await readFile(join(echo.artifactsRoot, "team-a/custom-1/text/echo.txt"), "utf8")).toBe("x");
  });

  it("refuses a .. escape, an absolute path outside /artifacts/, a relative prefix (and the kit's other bad prefixes) as ERR_INPUTS, writing nothing", async () => {
    await expectConformant(echo, "echo/text@1", ["paths.adversarial-prefixes"]);
    expect(await readdir(outside)).toEqual([]);
  });

  it("refuses symlinks the kit plants (the prefix, a directory on the way, the output's name)", async () => {
    await expectConformant(echo, "echo/text@1", ["paths.symlinks"]);
  });

  it("refuses a symlink planted inside the prefix that points outside, writing nothing outside", async () => {
    await mkdir(runDir("planted-1"), { recursive: true });
    await symlink(outside, join(runDir("planted-1"), "text"));
    const envelope = await run("planted-1");
    expect(envelope).toMatchObject({
      status: "error",
      error: { code: "ERR_INPUTS", message: expect.stringContaining("symlink") },
    });
    expect(await readdir(outside)).toEqual([]);
  });

  it("refuses a symlink planted at the output file itself", async () => {
    await mkdir(join(runDir("planted-2"), "text"), { recursive: true });
    await symlink(join(outside, "stolen.txt"), join(runDir("planted-2"), "text/echo.txt"));
    const envelope = await run("planted-2");
    expect(envelope).toMatchObject({ status: "error", error: { code: "ERR_INPUTS" } });
    expect(await readdir(outside)).toEqual([]);
  });

  it("refuses a run prefix that is itself a symlink out of the artifacts root", async () => {
    await mkdir(join(echo.artifactsRoot, "outputs/echo.text.1"), { recursive: true });
    await symlink(outside, runDir("planted-3"));
    const envelope = await run("planted-3");
    expect(envelope).toMatchObject({ status: "error", error: { code: "ERR_INPUTS" } });
    expect(await readdir(outside)).toEqual([]);
  });

  it("follows a symlink that stays inside the prefix", async () => {
    await mkdir(join(runDir("inside-1"), "real-text"), { recursive: true });
    await symlink(join(runDir("inside-1"), "real-text"), join(runDir("inside-1"), "text"));
    const envelope = await run("inside-1");
    expect(envelope.status).toBe("success");
    expect(await readFile(join(runDir("inside-1"), "real-text/echo.txt"), "utf8")).toBe("x");
  });
});
