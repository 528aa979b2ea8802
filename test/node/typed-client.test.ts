import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { ControlPlaneClient } from "../../src/client/index.ts";
import type { RunPage, RunResource } from "../../src/contract/api.ts";
import { getRunRoute, listAgentsRoute, listRunsRoute } from "../../src/contract/routes.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { createLogger } from "../../src/core/log.ts";

// The typed client (src/client/) beyond what control-plane-client.test.ts covers: listing, output
// downloads, any route by its definition, and types that come from the routes themselves.
const TOKEN = "typed-client-token";
let server: Server | undefined;
const seen: string[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  seen.length = 0;
  const listening = createServer((req, res) => {
    seen.push(req.url ?? "");
    handler(req, res);
  });
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
}

afterEach(async () => {
  const listening = server;
  server = undefined;
  listening?.closeAllConnections();
  await new Promise((resolve) => listening?.close(resolve) ?? resolve(undefined));
});

const client = (baseUrl: string) =>
  new ControlPlaneClient({ baseUrl, token: TOKEN, log: createLogger({ sink: () => {} }) });

const summary = (runId: string) => ({
  run_id: runId,
  ref: "llm/litellm@1",
  target: "modal",
  state: "succeeded",
  created_at: "2026-01-01T00:00:00.000Z",
});

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

describe("listing runs", () => {
  it("sends the filters as the query and follows next_cursor page by page up to the maximum", async () => {
    const url = await serve((req, res) => {
      const cursor = new URL(req.url ?? "", "http://x").searchParams.get("cursor");
      if (!cursor) json(res, 200, { runs: [summary("c"), summary("b")], next_cursor: "after-b" });
      else json(res, 200, { runs: [summary("a")], next_cursor: "after-a" });
    });
    const pages = [];
    for await (const page of client(url).pages({ tag: "nightly", state: "succeeded" }, 3)) pages.push(page);
    expect(pages.flatMap((page) => page.runs.map((run) => run.run_id))).toEqual(["c", "b", "a"]);
    expect(pages.at(-1)?.next_cursor).toBe("after-a");
    expect(seen).toEqual([
      "/v1/runs?tag=nightly&state=succeeded&limit=3",
      "/v1/runs?tag=nightly&state=succeeded&cursor=after-b&limit=1",
    ]);
  });

  it("an answer that is not a page is ERR_INTERNAL; a refused filter is the API's ERR_INPUTS", async () => {
    const url = await serve((req, res) => {
      if (req.url?.includes("state=")) {
        json(res, 400, { status: "error", error: { code: "ERR_INPUTS", message: "state: Invalid option" } });
      } else json(res, 200, { runs: "none" });
    });
    const invalid = (await client(url)
      .listRuns()
      .catch((e: unknown) => e)) as TheoryError;
    expect([invalid.code, invalid.message]).toEqual([
      "ERR_INTERNAL",
      "the control plane's answer to listRuns (HTTP 200) is invalid",
    ]);
    const refused = (await client(url)
      .listRuns({ state: "failed" })
      .catch((e: unknown) => e)) as TheoryError;
    expect([refused.code, refused.status]).toEqual(["ERR_INPUTS", 400]);
  });
});

describe("downloading an output", () => {
  it("keeps the output path's slashes, streams the body, and unquotes the ETag", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", etag: '"abc123"', "content-length": "5" });
      res.end("hello");
    });
    const output = await client(url).getOutput("run-1", "text/response.txt");
    expect(seen).toEqual(["/v1/runs/run-1/outputs/text/response.txt"]);
    expect({ etag: output.etag, type: output.contentType, size: output.size }).toEqual({
      etag: "abc123",
      type: "text/plain",
      size: 5,
    });
    expect(await new Response(output.body).text()).toBe("hello");
  });

  it("an error answer is its code; a path that is no output path is refused before sending", async () => {
    const url = await serve((_req, res) =>
      json(res, 404, { status: "error", error: { code: "ERR_NOT_FOUND", message: "local scope: …" } }),
    );
    const missing = (await client(url)
      .getOutput("run-1", "text/response.txt")
      .catch((e: unknown) => e)) as TheoryError;
    expect([missing.code, missing.message]).toEqual(["ERR_NOT_FOUND", "local scope: …"]);
    for (const [runId, path] of [
      ["run-1", "../secret"],
      ["run-1/../x", "outputs.json"],
    ] as const) {
      const refused = (await client(url)
        .getOutput(runId, path)
        .catch((e: unknown) => e)) as TheoryError;
      expect(refused).toBeInstanceOf(TheoryError);
      expect(refused.code).toBe("ERR_INPUTS");
    }
    expect(seen).toHaveLength(1);
  });
});

describe("the package's export", () => {
  it("theory/client is this client, with the routes it is typed from", async () => {
    const exported = await import("theory/client");
    expect(exported.ControlPlaneClient).toBe(ControlPlaneClient);
    expect(exported.routes.getRunRoute).toBe(getRunRoute);
  });
});

describe("any route, typed by its definition", () => {
  it("call() sends the route's method and path and parses its success answer", async () => {
    const url = await serve((_req, res) =>
      json(res, 200, {
        agents: [{ agent_id: "box", online: true, last_seen: null, platform: "amd64", tools: [] }],
      }),
    );
    expect(await client(url).call(listAgentsRoute, {})).toEqual({
      agents: [{ agent_id: "box", online: true, last_seen: null, platform: "amd64", tools: [] }],
    });
    expect(seen).toEqual(["/v1/agents"]);
  });

  it("takes its types from the routes (checked by npm run check)", () => {
    const typed = client("http://127.0.0.1:1");
    expectTypeOf(typed.call<typeof getRunRoute>).returns.resolves.toEqualTypeOf<RunResource>();
    expectTypeOf(typed.call<typeof listRunsRoute>).returns.resolves.toEqualTypeOf<RunPage>();
    expectTypeOf(typed.call<typeof getRunRoute>)
      .parameter(1)
      .toHaveProperty("params");
    // @ts-expect-error: a route's params are required where it has them
    void (() => typed.call(getRunRoute, {}));
    // @ts-expect-error: a filter takes only the states there are
    void (() => typed.call(listRunsRoute, { query: { state: "done" } }));
  });
});
