import { Hono } from "hono";

export { EndpointRegistry } from "../durable-objects/endpoint-registry.ts";
export { RunSession } from "../durable-objects/run-session.ts";

const app = new Hono();

app.get("/healthz", (c) => c.json({ ok: true }));

export default app;
