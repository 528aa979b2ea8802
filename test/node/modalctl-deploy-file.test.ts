import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROCESSOR_COMMAND, renderModalApp } from "../../agent/modalctl/deploy-file.ts";
import { webSpec } from "../../agent/modalctl/plan.ts";
import type { ToolRegistry } from "../../src/contract/tool-registry.ts";
import { parseToolRegistry } from "../../src/core/tool-registry.ts";
import { DIGEST_A, DIGEST_B, registryDoc } from "../support/examples.ts";
import { declaredApps } from "../support/modal-standin/deploy.ts";

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
const LITELLM = "llm/litellm@1";

const registry = (): ToolRegistry => {
  const doc = registryDoc() as { tools: Record<string, object> };
  doc.tools["echo/text@1"] = {
    image: "127.0.0.1:5000/theory/processor",
    digests: { amd64: DIGEST_B },
    port: 8001,
    resources: { cpu: 0.25, memory: "256Mi" },
    secrets: [],
    schema: "schema/tools/echo.text.1.json",
    timeout_s: 30,
    modal: { app: "theory-echo-text-1", function: "serve_echo" },
  };
  return parseToolRegistry(JSON.stringify(doc));
};

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-deploy-file-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function written(text: string, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe("modalctl deploy-file: the ref's Modal app, from one template", () => {
  it("is byte-stable for the same registry entry (the snapshot), whatever else the registry holds", async () => {
    const text = renderModalApp(webSpec(registry(), LITELLM));
    await expect(text).toMatchFileSnapshot("./__snapshots__/theory_llm_litellm_1.py");
    const alone = parseToolRegistry(JSON.stringify(registryDoc()));
    expect(renderModalApp(webSpec(alone, LITELLM))).toBe(text);
    const repinned = registryDoc() as { tools: Record<string, { digests: object }> };
    (repinned.tools[LITELLM] as { digests: object }).digests = { amd64: DIGEST_B };
    expect(renderModalApp(webSpec(parseToolRegistry(JSON.stringify(repinned)), LITELLM))).not.toBe(text);
  });

  it("compiles (python3 -m py_compile)", async () => {
    for (const ref of [LITELLM, "echo/text@1"]) {
      const path = await written(renderModalApp(webSpec(registry(), ref)), `${ref.replace(/\W/g, "_")}.py`);
      await expect(exec("python3", ["-m", "py_compile", path])).resolves.toBeDefined();
    }
  });

  it("declares the pinned image by digest, the resources, the secrets, the env and a proxy-auth web server", async () => {
    const path = await written(renderModalApp(webSpec(registry(), LITELLM)), "litellm.py");
    expect(await declaredApps(path)).toEqual([
      {
        app: "theory-llm-litellm-1",
        functions: [
          {
            name: "serve",
            image: {
              registry: `127.0.0.1:5000/theory/processor@${DIGEST_A}`,
              add_python: "3.12",
              env: {
                IMAGE_DIGEST: DIGEST_A,
                ENV_FINGERPRINT: "cpu:1;memory:2Gi",
                TOOL_REF: LITELLM,
                PORT: "8000",
              },
            },
            secrets: ["theory-llm-litellm-1-secrets", "theory-llm-litellm-1-processor-token"],
            cpu: 1,
            memory: 2048,
            timeout: 120,
            concurrent: { max_inputs: 100, target_inputs: null },
            web_server: { port: 8000, startup_timeout: 60, requires_proxy_auth: true },
            command: [...PROCESSOR_COMMAND],
          },
        ],
      },
    ]);
  });

  it("a tool without secrets gets only the token's secret; the function is the registry's modal.function", async () => {
    const path = await written(renderModalApp(webSpec(registry(), "echo/text@1")), "echo.py");
    const [app] = await declaredApps(path);
    expect(app?.functions).toMatchObject([
      { name: "serve_echo", secrets: ["theory-echo-text-1-processor-token"], cpu: 0.25, memory: 256 },
    ]);
  });

  it("starts the processor as the image does (processor/Dockerfile's CMD)", async () => {
    const dockerfile = await readFile(join(ROOT, "processor", "Dockerfile"), "utf8");
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(cmd ?? "null")).toEqual([...PROCESSOR_COMMAND]);
  });

  it("a ref without an amd64 pin cannot be written: ERR_INPUTS", () => {
    const unpinned = registryDoc() as { tools: Record<string, { digests: object }> };
    (unpinned.tools[LITELLM] as { digests: object }).digests = {};
    expect(() => webSpec(parseToolRegistry(JSON.stringify(unpinned)), LITELLM)).toThrow(/no digest pinned/);
  });
});
