import { Hono } from "hono";
import { TheoryError } from "../core/errors.ts";
import { agents } from "./api/agents.ts";
import type { AppEnv } from "./api/context.ts";
import { endpoints } from "./api/endpoints.ts";
import { onError, sendError } from "./api/errors.ts";
import { hooks } from "./api/hooks.ts";
import { withRuntime } from "./api/middleware.ts";
import { runs } from "./api/runs.ts";
import { tools } from "./api/tools.ts";

export { AgentTunnel } from "../../durable-objects/agent-tunnel.ts";
export { EndpointDirectory } from "../../durable-objects/endpoint-directory.ts";
export { RunSession } from "../../durable-objects/run-session.ts";
export { WebhookLedger } from "../../durable-objects/webhook-ledger.ts";

const app = new Hono<AppEnv>();

app.get("/healthz", (c) => c.json({ ok: true }));
app.use("/v1/*", withRuntime);
app.route("/v1/runs", runs);
app.route("/v1/endpoints", endpoints);
app.route("/v1/agents", agents);
app.route("/v1/hooks", hooks);
app.route("/v1/tools", tools);
app.notFound((c) =>
  sendError(
    c,
    new TheoryError("ERR_NOT_FOUND", `no such route: ${c.req.method} ${new URL(c.req.url).pathname}`),
  ),
);
app.onError(onError);

export default app;
