import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeConfig, loadProcessorConfig } from "../../../processor/config.ts";
import { echoInputs } from "../../../scripts/lib/inputs.ts";
import { ApiErrorSchema, RUN_SUBPROTOCOL } from "../../../src/contract/index.ts";
import { newProcessorToken, processorAuthHeaders } from "../../../src/core/processor-auth.ts";
import { DIGEST_A } from "../../support/examples.ts";
import {
  converse,
  payloadFor,
  postJson,
  type RunningProcessor,
  runOpen,
  startProcessor,
} from "../../support/processor.ts";

let echo: RunningProcessor;
beforeAll(async () => {
  echo = await startProcessor({ toolRef: "echo/text@1" });
});
afterAll(() => echo.close());

const payload = (runId: string) => payloadFor("echo/text@1", runId, echoInputs("hi"));
const WRONG = processorAuthHeaders(newProcessorToken());

/** A WebSocket upgrade request as raw HTTP, so a refusal's status and body can be read. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": Buffer.from("0123456789abcdef").toString("base64"),
        "Sec-WebSocket-Protocol": RUN_SUBPROTOCOL,
        ...headers,
      },
    });
    req.on("upgrade", (_response, socket) => {
      socket.destroy();
      resolve({ status: 101, body: "" });
    });
    req.on("response", (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const expectRefused = (status: number, body: string) => {
  expect(status).toBe(401);
  const error = ApiErrorSchema.parse(JSON.parse(body));
  expect(error.error.code).toBe("ERR_AUTH");
};

describe("processor auth: /run needs Authorization: Bearer <PROCESSOR_TOKEN>", () => {
  it("with the token: the WebSocket run and the HTTP runs succeed; /healthz needs nothing", async () => {
    const talk = await converse(echo.ws, [runOpen(payload("auth-ws"))]);
    expect(talk.frames.at(-1)).toMatchObject({ kind: "RunResult", content: { status: "success" } });
    for (const path of ["/run", "/run-stream"]) {
      const answer = await postJson(`${echo.http}${path}`, payload(`auth${path.replace("/", "-")}`));
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('"status":"success"');
    }
    expect((await fetch(`${echo.http}/healthz`)).status).toBe(200);
  });

  it.each([
    ["no Authorization header", {}],
    ["a wrong token", WRONG],
    ["another scheme", { Authorization: `Basic ${echo?.token}` }],
  ] as [string, Record<string, string>][])(
    "%s: the upgrade, POST /run and POST /run-stream are 401 ERR_AUTH; nothing runs",
    async (_name, headers) => {
      const refused = await upgrade(echo.ws.replace("ws:", "http:"), headers);
      expectRefused(refused.status, refused.body);
      await expect(converse(echo.ws, [runOpen(payload("auth-no"))], { headers })).rejects.toThrow(/401/);
      for (const path of ["/run", "/run-stream"]) {
        const response = await fetch(`${echo.http}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(payload("auth-no")),
        });
        expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
        expectRefused(response.status, await response.text());
      }
    },
  );

  it("the right token is admitted on the raw upgrade too (101)", async () => {
    expect((await upgrade(echo.ws.replace("ws:", "http:"), processorAuthHeaders(echo.token))).status).toBe(
      101,
    );
  });

  it("PROCESSOR_TOKEN is required and must look like a token; the config summary never holds it", () => {
    const env = { TOOL_REF: "echo/text@1", IMAGE_DIGEST: DIGEST_A, ENV_FINGERPRINT: "cpu:1;memory:2Gi" };
    expect(() => loadProcessorConfig(env)).toThrow(/PROCESSOR_TOKEN/);
    expect(() => loadProcessorConfig({ ...env, PROCESSOR_TOKEN: "short" })).toThrow(/PROCESSOR_TOKEN/);
    const token = newProcessorToken();
    expect(token).toMatch(/^tpt_[A-Za-z0-9_-]{43}$/);
    const config = loadProcessorConfig({ ...env, PROCESSOR_TOKEN: token });
    expect(config.processorToken).toBe(token);
    expect(JSON.stringify(describeConfig(config))).not.toContain(token);
  });
});

describe("the processor process never logs its token", () => {
  it("runs admitted and refused: stderr has the events, never the token", async () => {
    const artifacts = await mkdtemp(join(tmpdir(), "theory-auth-"));
    const token = newProcessorToken();
    const child = spawn(process.execPath, [join(import.meta.dirname, "../../../processor/main.ts")], {
      env: {
        ...process.env,
        TOOL_REF: "echo/text@1",
        IMAGE_DIGEST: DIGEST_A,
        ENV_FINGERPRINT: "cpu:1;memory:2Gi",
        ARTIFACTS_ROOT: artifacts,
        HOST: "127.0.0.1",
        PORT: "0",
        PROCESSOR_TOKEN: token,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr.on("data", () => {
          const listen = /"event":"processor\.listen"[^\n]*"port":(\d+)/.exec(stderr);
          if (listen) resolve(Number(listen[1]));
        });
        child.once("exit", (code) => reject(new Error(`processor exited ${code}: ${stderr}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const admitted = await converse(`ws://127.0.0.1:${port}/run`, [runOpen(payload("log-1"))], {
        headers: processorAuthHeaders(token),
      });
      expect(admitted.frames.at(-1)?.content.status).toBe("success");
      // A client that sends the token where it does not belong: in the wrong scheme, and as the path.
      expect(
        (await postJson(`${base}/run`, payload("log-2"), { Authorization: `Token ${token}` })).status,
      ).toBe(401);
      expect((await postJson(`${base}/${token}`, payload("log-3"), processorAuthHeaders(token))).status).toBe(
        404,
      );
    } finally {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
      await rm(artifacts, { recursive: true, force: true });
    }
    expect(stderr).toContain('"event":"config.resolved"');
    expect(stderr).toContain('"event":"error.auth"');
    expect(stderr).not.toContain(token);
  });
});
