import { OpenAPIHono } from "@hono/zod-openapi";
import { openApiDocument } from "../contract/openapi.ts";
import { healthRoute, openApiRoute } from "../contract/routes.ts";
import { TheoryError } from "../core/errors.ts";
import { mountAgents } from "./api/agents.ts";
import type { AppEnv } from "./api/context.ts";
import { mountEndpoints } from "./api/endpoints.ts";
import { onError, sendError, validationHook } from "./api/errors.ts";
import { mountHooks } from "./api/hooks.ts";
import { withRuntime } from "./api/middleware.ts";
import { mount } from "./api/mount.ts";
import { mountRuns } from "./api/runs.ts";
import { mountTools } from "./api/tools.ts";
import { mountWhoami } from "./api/whoami.ts";

export { AgentTunnel } from "../../durable-objects/agent-tunnel.ts";
export { EndpointDirectory } from "../../durable-objects/endpoint-directory.ts";
export { RunSession } from "../../durable-objects/run-session.ts";
export { WebhookLedger } from "../../durable-objects/webhook-ledger.ts";

/** Every route is one of src/contract/routes.ts, validated by the one hook (docs/api.md#routes). */
const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

mount(app, healthRoute, (c) => c.json({ ok: true as const }));
mount(app, openApiRoute, (c) => c.json(openApiDocument()));
app.use("/v1/*", withRuntime);
mountWhoami(app);
mountRuns(app);
mountEndpoints(app);
mountAgents(app);
mountHooks(app);
mountTools(app);
app.notFound((c) =>
  sendError(
    c,
    new TheoryError("ERR_NOT_FOUND", `no such route: ${c.req.method} ${new URL(c.req.url).pathname}`),
  ),
);
app.onError(onError);

export default app;
