import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/local-stack.ts";
import { parseToolRegistry } from "../../src/core/tool-registry.ts";
import { docker } from "./support/docker.ts";

const root = join(import.meta.dirname, "..", "..");
const cli = join(root, "agent", "bin", "theory.js");
const REGISTRY = "127.0.0.1:5000";
/** The platform this engine builds natively (the local base image is for it only). */
const HOST = process.arch === "arm64" ? "arm64" : "amd64";
const OTHER = HOST === "amd64" ? "arm64" : "amd64";
const BASE = ["--base-image", "theory/node-base:24"];
const MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

let work = "";
/** A unique repository per run, so parallel runs and other test files never race on a tag. */
let repository = "";
let registryFile = "";
let original = "";

/**
 * `theory imagectl ACTION --ref REF [--platform P] [...extra] --json --registry FILE` as a user runs
 * it: its own process, THEORY_HOME in a temp dir, the real engine unless `env` says otherwise.
 */
function imagectl(
  action: string,
  ref: string,
  platform: string | undefined,
  extra: string[] = [],
  options: { registry?: string; env?: Record<string, string> } = {},
): Promise<Outcome> {
  const { DOCKER_HOST: _, THEORY_REGISTRY: __, ...inherited } = process.env;
  const args = [
    cli,
    "imagectl",
    action,
    "--ref",
    ref,
    ...(platform ? ["--platform", platform] : []),
    ...extra,
  ];
  args.push("--json", "--registry", options.registry ?? registryFile);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      {
        cwd: root,
        env: { ...inherited, THEORY_HOME: join(work, "home"), ...options.env },
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The one result line of a --json run. */
function result(outcome: Outcome): Record<string, unknown> {
  expect(outcome.stdout.endsWith("\n")).toBe(true);
  expect(outcome.stdout.trimEnd().split("\n")).toHaveLength(1);
  return JSON.parse(outcome.stdout) as Record<string, unknown>;
}

const ok = (outcome: Outcome) => {
  expect(outcome.code, outcome.stderr).toBe(0);
  return result(outcome);
};

const failure = (outcome: Outcome, code: string, exit: number) => {
  expect(outcome.code, outcome.stderr).toBe(exit);
  const body = result(outcome) as { status: string; error: { code: string; message: string } };
  expect(body.status).toBe("error");
  expect(body.error.code).toBe(code);
  return body.error.message;
};

/** NDJSON only: with stderr not a terminal there is no progress text. */
const onlyNdjson = (stderr: string) => {
  for (const line of stderr.trimEnd().split("\n").filter(Boolean))
    expect(() => JSON.parse(line)).not.toThrow();
};

/** A registry.yaml copy whose tools use `image`, for one test's private repository. */
async function registryWithImage(image: string): Promise<string> {
  const path = join(work, `registry-${randomBytes(4).toString("hex")}.yaml`);
  await writeFile(path, original.replaceAll(`${REGISTRY}/theory/processor`, image));
  return path;
}

/** What the registry itself serves for a tag (HEAD, no pull): its Docker-Content-Digest. */
async function registryDigest(repo: string, reference: string): Promise<string | null> {
  const path = repo.slice(REGISTRY.length + 1);
  const response = await fetch(`http://${REGISTRY}/v2/${path}/manifests/${reference}`, {
    method: "HEAD",
    headers: { accept: MANIFEST_TYPES },
  });
  return response.ok ? response.headers.get("docker-content-digest") : null;
}

const pinned = async (file: string, ref: string) =>
  parseToolRegistry(await readFile(file, "utf8")).tools[ref]?.digests;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "theory-e2e-imagectl-"));
  original = await readFile(join(root, "registry.yaml"), "utf8");
  repository = `${REGISTRY}/theory/e2e-${randomBytes(4).toString("hex")}`;
  registryFile = await registryWithImage(repository);
});

afterAll(async () => {
  const tags = (await docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository)).split("\n");
  for (const tag of tags.filter(Boolean)) await docker("image", "rm", tag).catch(() => undefined);
  const digest = await registryDigest(repository, `${HOST}-build`).catch(() => null);
  if (digest) {
    const path = repository.slice(REGISTRY.length + 1);
    await fetch(`http://${REGISTRY}/v2/${path}/manifests/${digest}`, { method: "DELETE" }).catch(
      () => undefined,
    );
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe("theory imagectl build|push|pin|publish (real engine, real registry on 127.0.0.1:5000)", () => {
  let imageId = "";
  let digest = "";

  it("build: bundles the processor and builds processor/Dockerfile as <image>:<platform>-build", async () => {
    const outcome = await imagectl("build", "echo/text@1", HOST, BASE);
    const built = ok(outcome);
    const tag = `${repository}:${HOST}-build`;
    expect(built).toEqual({
      ref: "echo/text@1",
      platform: HOST,
      image_id: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
      tag,
    });
    imageId = built.image_id as string;
    const inspected = JSON.parse(await docker("image", "inspect", tag))[0];
    expect(inspected.Id).toBe(imageId);
    expect(`${inspected.Os}/${inspected.Architecture}`).toBe(`linux/${HOST}`);
    expect(inspected.Config.Cmd).toEqual(["node", "/app/processor.mjs"]);
    onlyNdjson(outcome.stderr);
    expect(outcome.stderr).toContain('"event":"imagectl.build.done"');
  });

  it("build: an error inside the engine's build stream is ERR_DOCKER, and the tag keeps its image", async () => {
    const outcome = await imagectl("build", "echo/text@1", HOST, ["--base-image", "Theory/Not-Lowercase:1"]);
    expect(failure(outcome, "ERR_DOCKER", 11)).toMatch(/must be lowercase/);
    expect(await docker("image", "inspect", "--format", "{{.Id}}", `${repository}:${HOST}-build`)).toBe(
      imageId,
    );
  });

  it(`build: --platform ${OTHER} from a base made for ${HOST} only is refused (ERR_DOCKER), leaving no ${OTHER} tag`, async () => {
    const outcome = await imagectl("build", "echo/text@1", OTHER, BASE);
    expect(failure(outcome, "ERR_DOCKER", 11)).toContain(`not linux/${OTHER}`);
    expect(await docker("image", "ls", "-q", `${repository}:${OTHER}-build`)).toBe("");
  });

  it("push: pushes the tag and answers the manifest digest the registry serves", async () => {
    const outcome = await imagectl("push", "echo/text@1", HOST);
    const pushed = ok(outcome);
    digest = pushed.digest as string;
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(pushed).toEqual({ ref: "echo/text@1", platform: HOST, image: `${repository}@${digest}`, digest });
    expect(await registryDigest(repository, `${HOST}-build`)).toBe(digest);
    const repoDigests = await docker("image", "inspect", "--format", "{{json .RepoDigests}}", imageId);
    expect(JSON.parse(repoDigests)).toContain(`${repository}@${digest}`);
    onlyNdjson(outcome.stderr);
  });

  it("push: a tag that was never built is ERR_IMAGE_NOT_FOUND (exit 8)", async () => {
    const registry = await registryWithImage(`${REGISTRY}/theory/e2e-${randomBytes(4).toString("hex")}`);
    const outcome = await imagectl("push", "echo/text@1", HOST, [], { registry });
    expect(failure(outcome, "ERR_IMAGE_NOT_FOUND", 8)).toContain("run imagectl build first");
  });

  it("push: a registry nobody serves is ERR_DOCKER with a hint; pin then finds nothing pushed", async () => {
    const image = `127.0.0.1:${await freePort()}/theory/e2e-${randomBytes(4).toString("hex")}`;
    const registry = await registryWithImage(image);
    await docker("tag", imageId, `${image}:${HOST}-build`);
    try {
      const pushed = await imagectl("push", "echo/text@1", HOST, [], { registry });
      expect(failure(pushed, "ERR_DOCKER", 11)).toContain("is the image registry at");
      const before = await readFile(registry, "utf8");
      const pinned = await imagectl("pin", "echo/text@1", HOST, [], { registry });
      expect(failure(pinned, "ERR_IMAGE_NOT_FOUND", 8)).toContain("run imagectl push first");
      expect(await readFile(registry, "utf8")).toBe(before);
    } finally {
      await docker("image", "rm", `${image}:${HOST}-build`);
    }
  });

  it("pin: writes the pushed digest into registry.yaml, every other byte as it was", async () => {
    const before = await readFile(registryFile, "utf8");
    const outcome = await imagectl("pin", "echo/text@1", HOST);
    expect(ok(outcome)).toEqual({ ref: "echo/text@1", platform: HOST, digest, registry: registryFile });
    const after = await readFile(registryFile, "utf8");
    const [oldLines, newLines] = [before.split("\n"), after.split("\n")];
    expect(newLines).toHaveLength(oldLines.length);
    const changed = oldLines.flatMap((line, i) => (line === newLines[i] ? [] : [[line, newLines[i]]]));
    // The first `digests: {}` is echo/text@1's; comments, order and flow styles stay.
    expect(changed).toEqual([["    digests: {}", `    digests: { ${HOST}: "${digest}" }`]]);
    expect(before.indexOf("    digests: {}")).toBeLessThan(before.indexOf("  llm/litellm@1:"));
    expect(await pinned(registryFile, "echo/text@1")).toEqual({ [HOST]: digest });
    expect(digest).toBe(await registryDigest(repository, `${HOST}-build`));
    onlyNdjson(outcome.stderr);
  });

  it("pin --digest: sets the other platform beside it without an engine, and again is a no-op", async () => {
    const other = `sha256:${"ab".repeat(32)}`;
    const pin = () =>
      imagectl("pin", "echo/text@1", OTHER, ["--digest", other], {
        env: { DOCKER_HOST: "unix:///nonexistent.sock" },
      });
    expect(ok(await pin())).toEqual({
      ref: "echo/text@1",
      platform: OTHER,
      digest: other,
      registry: registryFile,
    });
    const text = await readFile(registryFile, "utf8");
    expect(text).toContain(`    digests: { ${HOST}: "${digest}", ${OTHER}: "${other}" }\n`);
    expect(await pinned(registryFile, "echo/text@1")).toEqual({ [HOST]: digest, [OTHER]: other });
    ok(await pin());
    expect(await readFile(registryFile, "utf8")).toBe(text);
  });

  it("pin: a malformed --digest is ERR_INPUTS (exit 2) and the file is unchanged", async () => {
    const before = await readFile(registryFile, "utf8");
    const bad = [
      "sha256:xyz",
      `sha256:${"A".repeat(64)}`,
      "latest",
      `${repository}@sha256:${"0".repeat(64)}`,
    ];
    for (const outcome of await Promise.all(
      bad.map((value) => imagectl("pin", "echo/text@1", HOST, ["--digest", value])),
    ))
      expect(failure(outcome, "ERR_INPUTS", 2)).toContain("--digest");
    expect(await readFile(registryFile, "utf8")).toBe(before);
  });

  it("publish: build, push and pin in one command, for another ref of the same image", async () => {
    const outcome = await imagectl("publish", "llm/litellm@1", HOST, BASE);
    const published = ok(outcome);
    const served = await registryDigest(repository, `${HOST}-build`);
    expect(published).toEqual({
      ref: "llm/litellm@1",
      platform: HOST,
      image_id: expect.stringMatching(/^sha256:/),
      tag: `${repository}:${HOST}-build`,
      image: `${repository}@${served}`,
      digest: served,
      registry: registryFile,
    });
    expect((await pinned(registryFile, "llm/litellm@1"))?.[HOST]).toBe(served);
    for (const step of ["build", "push", "pin"])
      expect(outcome.stderr).toContain(`"event":"imagectl.${step}.done"`);
  });

  it("shows build progress on stderr when it is a terminal, stdout still only the result", async () => {
    const out = join(work, "tty-stdout.json");
    const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const args = ["imagectl", "build", "--ref", "echo/text@1", "--platform", HOST, ...BASE];
    const command = [process.execPath, cli, ...args, "--json", "--registry", registryFile]
      .map(quote)
      .join(" ");
    // script(1) gives the CLI a terminal on stderr; stdout goes to a file.
    const terminal = await new Promise<string>((resolve, reject) =>
      execFile(
        "script",
        ["-qec", `${command} > ${quote(out)}`, "/dev/null"],
        { cwd: root, env: { ...process.env, THEORY_HOME: join(work, "home") } },
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      ),
    );
    expect(terminal).toMatch(/Step 1\/\d+ : ARG BASE_IMAGE/);
    expect(terminal).toContain("bundling the processor");
    expect(JSON.parse(await readFile(out, "utf8"))).toMatchObject({ ref: "echo/text@1", platform: HOST });
  });
});

describe("theory imagectl: inputs and engine failures", () => {
  const ACTIONS = ["build", "push", "pin", "publish"];
  const all = (runs: Promise<Outcome>[]) => Promise.all(runs);

  it("an unknown ref is ERR_INPUTS (exit 2) for every action", async () => {
    for (const outcome of await all(ACTIONS.map((action) => imagectl(action, "nope/missing@1", HOST))))
      expect(failure(outcome, "ERR_INPUTS", 2)).toContain("unknown ref");
  });

  it("--platform is required and explicit (exit 2 without it, or with another value)", async () => {
    for (const outcome of await all(ACTIONS.map((action) => imagectl(action, "echo/text@1", undefined))))
      expect(failure(outcome, "ERR_INPUTS", 2)).toContain("--platform amd64|arm64 is required");
    for (const outcome of await all(ACTIONS.map((action) => imagectl(action, "echo/text@1", "x86_64"))))
      expect(failure(outcome, "ERR_INPUTS", 2)).toContain("--platform must be amd64 or arm64");
  });

  it("an unknown action, an unknown flag or a flag of another action is ERR_INPUTS (exit 2)", async () => {
    const outcomes = await all([
      imagectl("tag", "echo/text@1", HOST),
      imagectl("build", "echo/text@1", HOST, ["--nope"]),
      imagectl("push", "echo/text@1", HOST, BASE),
      imagectl("build", "echo/text@1", HOST, ["--digest", `sha256:${"0".repeat(64)}`]),
    ]);
    for (const outcome of outcomes) failure(outcome, "ERR_INPUTS", 2);
  });

  it("an unreachable engine is ERR_DOCKER (exit 11) for build, push, pin and publish", async () => {
    const env = { DOCKER_HOST: "unix:///nonexistent.sock" };
    const outcomes = await all(ACTIONS.map((action) => imagectl(action, "echo/text@1", HOST, [], { env })));
    for (const outcome of outcomes) expect(failure(outcome, "ERR_DOCKER", 11)).toContain("not reachable");
  });
});
