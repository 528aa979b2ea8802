// The HTTP API as data (docs/api.md#routes): every route's method, path, scope, request and
// response schemas, once. The Worker mounts these (src/worker/api/), /openapi.json is generated
// from them (./openapi.ts) and the typed client (src/client/) takes its types from them.
import { createRoute, extendZodWithOpenApi } from "@hono/zod-openapi";
import { z } from "zod";
import {
  AgentStatusSchema,
  EndpointRegistrationSchema,
  EndpointSchema,
  REPLAY_WAIT_S,
  ReceiptSchema,
  ReplayRequestSchema,
  ReplayVerdictSchema,
  RunListQuerySchema,
  RunPageSchema,
  RunRequestSchema,
  RunResourceSchema,
  type Scope,
  ToolResourceSchema,
  WhoamiSchema,
} from "./api.ts";
import { ApiErrorSchema, EnvelopeSchema } from "./envelope.ts";
import { RelativePathSchema, RunIdSchema } from "./primitives.ts";

// The contract's zod, extended here (a test runner may load another copy for @hono/zod-openapi).
extendZodWithOpenApi(z);

/**
 * `schema` under a component name. Through the prototype: zod copies prototype methods onto a
 * schema when it is made, and the contract's schemas were made before the extension above.
 */
function named<S extends z.ZodType>(schema: S, name: string): S {
  return z.ZodType.prototype.openapi.call(schema, name) as S;
}

/** The security scheme every `/v1` route but the CI hook names, with the route's scope. */
export const BEARER = "bearer";

/** The same schemas, named: the OpenAPI document refers to them as components. */
const RunRequest = named(RunRequestSchema, "RunRequest");
const RunResource = named(RunResourceSchema, "RunResource");
const RunPage = named(RunPageSchema, "RunPage");
const Envelope = named(EnvelopeSchema, "Envelope");
const Receipt = named(ReceiptSchema, "Receipt");
const ApiError = named(ApiErrorSchema, "ApiError");
const EndpointRegistration = named(EndpointRegistrationSchema, "EndpointRegistration");
const Endpoint = named(EndpointSchema, "Endpoint");
const EndpointList = named(z.strictObject({ endpoints: z.array(EndpointSchema) }), "EndpointList");
const Whoami = named(WhoamiSchema, "Whoami");
const AgentList = named(z.strictObject({ agents: z.array(AgentStatusSchema) }), "AgentList");
const ToolResource = named(ToolResourceSchema, "ToolResource");
const ReplayRequest = named(ReplayRequestSchema, "ReplayRequest");
const ReplayVerdict = named(ReplayVerdictSchema, "ReplayVerdict");
const ToolList = named(z.strictObject({ tools: z.array(ToolResourceSchema) }), "ToolList");

const STATUS_TEXT = {
  400: "Bad request: malformed JSON, a bad query, a missing upgrade",
  401: "No or unknown bearer token (ERR_AUTH)",
  403: "The token lacks the route's scope (ERR_AUTH)",
  404: "No such run, output, endpoint or ref (ERR_NOT_FOUND)",
  409: "A run_id reused for a different request (ERR_CONFLICT)",
  413: "Body over 1 MiB (ERR_INPUTS)",
  415: "Body not application/json (ERR_INPUTS)",
  416: "Range not satisfiable (ERR_INPUTS)",
  422: "A body that fails the schema, or a run that cannot be planned (ERR_INPUTS)",
  500: "A misconfigured control plane, a storage failure, anything unexpected (ERR_INTERNAL)",
} as const;
type ErrorStatus = keyof typeof STATUS_TEXT;

const json = <S extends z.ZodType>(schema: S) => ({ "application/json": { schema } });

/** The error envelope under each of these statuses. */
function errors<const S extends readonly ErrorStatus[]>(...statuses: S) {
  return Object.fromEntries(
    statuses.map((status) => [status, { description: STATUS_TEXT[status], content: json(ApiError) }]),
  ) as { [K in S[number]]: { description: string; content: ReturnType<typeof json<typeof ApiError>> } };
}

const security = (scope: Scope) => [{ [BEARER]: [scope] }];
const header = (description: string) => ({ description, schema: { type: "string" as const } });
const etag = { ETag: header('`"<hex>"`: the bytes\' digest; send it back as If-None-Match') };

const runId = z.strictObject({ id: RunIdSchema.describe("the run's id") });
const refParams = z.strictObject({
  namespace: z.string().describe("the ref's namespace (`llm` in `llm/litellm@1`)"),
  name: z.string().describe("the ref's name@version (`litellm@1`)"),
});
const conditional = z.object({ "if-none-match": z.string().optional() });

export const healthRoute = createRoute({
  operationId: "health",
  method: "get",
  path: "/healthz",
  tags: ["meta"],
  summary: "Liveness; needs no token",
  security: [],
  responses: { 200: { description: "up", content: json(z.strictObject({ ok: z.literal(true) })) } },
});

export const openApiRoute = createRoute({
  operationId: "openApi",
  method: "get",
  path: "/openapi.json",
  tags: ["meta"],
  summary: "This document; needs no token",
  security: [],
  responses: {
    200: { description: "OpenAPI 3.1", content: json(z.record(z.string(), z.unknown())) },
  },
});

export const whoamiRoute = createRoute({
  operationId: "whoami",
  method: "get",
  path: "/v1/whoami",
  tags: ["meta"],
  summary: "The presented token's grant: its name, scopes and bound agent (never the token or its hash)",
  security: security("runs:read"),
  responses: { 200: { description: "the grant", content: json(Whoami) }, ...errors(401, 403, 500) },
});

export const listRunsRoute = createRoute({
  operationId: "listRuns",
  method: "get",
  path: "/v1/runs",
  tags: ["runs"],
  summary: "Runs, newest first, filtered; one page and the cursor of the next",
  security: security("runs:read"),
  request: { query: RunListQuerySchema },
  responses: { 200: { description: "a page", content: json(RunPage) }, ...errors(400, 401, 403, 500) },
});

/** A run's events as server-sent events (docs/protocols.md#the-run-events-stream). */
const eventStream = { "text/event-stream": { schema: { type: "string" as const } } };

const runAnswer = (description: string) => ({
  description,
  headers: {
    Location: header("/v1/runs/{run_id}"),
    "Preference-Applied": header("wait=N, when Prefer: wait was honoured"),
  },
  content: json(RunResource),
});

export const createRunRoute = createRoute({
  operationId: "createRun",
  method: "post",
  path: "/v1/runs",
  tags: ["runs"],
  summary: "Start a run, or find the same request's run",
  security: security("runs:write"),
  request: {
    headers: z.object({
      prefer: z.string().optional().describe("wait=N: hold the answer up to N (≤ 60) s"),
      accept: z
        .string()
        .optional()
        .describe(
          "text/event-stream: answer with the run's events, from the first to `done` (Prefer is then ignored)",
        ),
    }),
    body: { required: true, content: json(RunRequest) },
  },
  responses: {
    200: {
      ...runAnswer("settled within Prefer: wait; with Accept: text/event-stream, the run's events stream"),
      content: { ...json(RunResource), ...eventStream },
    },
    202: runAnswer("started (or found), not settled"),
    ...errors(400, 401, 403, 409, 413, 415, 422, 500),
  },
});

export const getRunRoute = createRoute({
  operationId: "getRun",
  method: "get",
  path: "/v1/runs/{id}",
  tags: ["runs"],
  summary: "The run resource",
  security: security("runs:read"),
  request: { params: runId },
  responses: { 200: { description: "the run", content: json(RunResource) }, ...errors(401, 403, 404, 500) },
});

export const getEnvelopeRoute = createRoute({
  operationId: "getEnvelope",
  method: "get",
  path: "/v1/runs/{id}/envelope",
  tags: ["runs"],
  summary: "The settled run's envelope, exactly the persisted canonical bytes",
  security: security("runs:read"),
  request: { params: runId, headers: conditional },
  responses: {
    200: { description: "the envelope", headers: etag, content: json(Envelope) },
    304: { description: "If-None-Match matched", headers: etag },
    ...errors(401, 403, 404, 500),
  },
});

export const getReceiptRoute = createRoute({
  operationId: "getReceipt",
  method: "get",
  path: "/v1/runs/{id}/receipt",
  tags: ["runs"],
  summary: "What happened around the settled run",
  security: security("runs:read"),
  request: { params: runId, headers: conditional },
  responses: {
    200: { description: "the receipt", headers: etag, content: json(Receipt) },
    304: { description: "If-None-Match matched", headers: etag },
    ...errors(401, 403, 404, 500),
  },
});

export const runEventsRoute = createRoute({
  operationId: "runEvents",
  method: "get",
  path: "/v1/runs/{id}/events",
  tags: ["runs"],
  summary: "The run's events: replay after Last-Event-ID, then live, ending with `done`",
  security: security("runs:read"),
  request: {
    params: runId,
    headers: z.object({
      "last-event-id": z.string().optional().describe("resume after this event id"),
    }),
  },
  responses: {
    101: { description: "Upgrade: websocket: the same events, one JSON message each" },
    200: {
      description: "Server-sent events: `id`, `event` (the frame kind, or `done` with the envelope), `data`",
      content: eventStream,
    },
    ...errors(401, 403, 404, 500),
  },
});

export const cancelRunRoute = createRoute({
  operationId: "cancelRun",
  method: "post",
  path: "/v1/runs/{id}/cancel",
  tags: ["runs"],
  summary: "Ask the run to stop; it settles canceled (or with the processor's own result within 5 s)",
  security: security("runs:write"),
  request: { params: runId },
  responses: {
    202: { description: "the run as it stands", content: json(RunResource) },
    ...errors(401, 403, 404, 500),
  },
});

/** Output paths span segments (`text/response.txt`): the one parameter that may hold slashes. */
export const SPANNING_PARAMS: readonly string[] = ["path"];

export const getOutputRoute = createRoute({
  operationId: "getOutput",
  method: "get",
  path: "/v1/runs/{id}/outputs/{path}",
  tags: ["runs"],
  summary: "A world-scope output (or outputs.json) of the settled run, streamed from storage",
  security: security("runs:read"),
  request: {
    params: runId.extend({
      path: RelativePathSchema.describe("below the run's prefix, e.g. text/response.txt"),
    }),
    headers: conditional.extend({ range: z.string().optional().describe("bytes=…") }),
  },
  responses: {
    200: {
      description: "the bytes, with the content type they were stored with",
      headers: { ...etag, "Accept-Ranges": header("bytes") },
      content: { "*/*": { schema: { type: "string", contentMediaType: "application/octet-stream" } } },
    },
    206: {
      description: "the requested range",
      headers: { ...etag, "Content-Range": header("bytes first-last/size") },
      content: { "*/*": { schema: { type: "string", contentMediaType: "application/octet-stream" } } },
    },
    304: { description: "If-None-Match matched", headers: etag },
    ...errors(401, 403, 404, 416, 500),
  },
});

export const listEndpointsRoute = createRoute({
  operationId: "listEndpoints",
  method: "get",
  path: "/v1/endpoints",
  tags: ["endpoints"],
  summary: "Every registered endpoint, by ref: its URL and digest, nothing else a registration holds",
  security: security("endpoints:write"),
  responses: {
    200: { description: "the registrations", content: json(EndpointList) },
    ...errors(401, 403, 500),
  },
});

export const putEndpointRoute = createRoute({
  operationId: "putEndpoint",
  method: "put",
  path: "/v1/endpoints/{namespace}/{name}",
  tags: ["endpoints"],
  summary: "Register (or replace) where a ref's processor is reachable for target modal",
  security: security("endpoints:write"),
  request: { params: refParams, body: { required: true, content: json(EndpointRegistration) } },
  responses: {
    200: { description: "registered", content: json(Endpoint) },
    ...errors(400, 401, 403, 404, 413, 415, 422, 500),
  },
});

export const getEndpointRoute = createRoute({
  operationId: "getEndpoint",
  method: "get",
  path: "/v1/endpoints/{namespace}/{name}",
  tags: ["endpoints"],
  summary: "A ref's registration",
  security: security("endpoints:write"),
  request: { params: refParams },
  responses: {
    200: { description: "the registration", content: json(Endpoint) },
    ...errors(401, 403, 404, 500),
  },
});

export const deleteEndpointRoute = createRoute({
  operationId: "deleteEndpoint",
  method: "delete",
  path: "/v1/endpoints/{namespace}/{name}",
  tags: ["endpoints"],
  summary: "Remove a ref's registration",
  security: security("endpoints:write"),
  request: { params: refParams },
  responses: { 204: { description: "removed" }, ...errors(401, 403, 404, 500) },
});

export const listAgentsRoute = createRoute({
  operationId: "listAgents",
  method: "get",
  path: "/v1/agents",
  tags: ["agents"],
  summary: "Every agent a token is bound to: online, last seen, platform and tools",
  security: security("runs:read"),
  responses: { 200: { description: "the agents", content: json(AgentList) }, ...errors(401, 403, 500) },
});

export const connectAgentRoute = createRoute({
  operationId: "connectAgent",
  method: "get",
  path: "/v1/agents/connect",
  tags: ["agents"],
  summary: "The agent's tunnel (WebSocket, subprotocol theory.agent.v1); the token names the agent",
  security: security("agents:connect"),
  responses: {
    101: { description: "Switching Protocols: the tunnel" },
    ...errors(400, 401, 403, 500),
  },
});

export const replayRunRoute = createRoute({
  operationId: "replayRun",
  method: "post",
  path: "/v1/runs/{id}/replay",
  tags: ["runs"],
  summary: "Run a settled run's exact request again (on its target or another) and say whether it reproduced",
  security: security("runs:write"),
  request: { params: runId, body: { required: true, content: json(ReplayRequest) } },
  responses: {
    200: { description: "the replay settled: identical or drifted", content: json(ReplayVerdict) },
    202: {
      description: `the replay did not settle within ${REPLAY_WAIT_S} s: pending (ask again with its run_id)`,
      content: json(ReplayVerdict),
    },
    ...errors(400, 401, 403, 404, 409, 413, 415, 422, 500),
  },
});

export const listToolsRoute = createRoute({
  operationId: "listTools",
  method: "get",
  path: "/v1/tools",
  tags: ["tools"],
  summary: "The tools this control plane can run, with the JSON Schema their inputs are checked against",
  security: security("runs:read"),
  responses: { 200: { description: "the tools", content: json(ToolList) }, ...errors(401, 403, 500) },
});

export const getToolRoute = createRoute({
  operationId: "getTool",
  method: "get",
  path: "/v1/tools/{namespace}/{name}",
  tags: ["tools"],
  summary: "One tool: its inputs' JSON Schema, outputs, resources, timeout, secrets and pinned platforms",
  security: security("runs:read"),
  request: { params: refParams },
  responses: { 200: { description: "the tool", content: json(ToolResource) }, ...errors(401, 403, 404, 500) },
});

export const ciHookRoute = createRoute({
  operationId: "ciHook",
  method: "post",
  path: "/v1/hooks/ci",
  tags: ["hooks"],
  summary: "A run request signed by CI (Standard Webhooks or GitHub); the signature is its credential",
  security: [],
  request: {
    // Described, not validated here: the signature is checked on the raw bytes first.
    body: {
      required: true,
      content: { "application/json": { schema: { $ref: "#/components/schemas/RunRequest" } } },
    },
  },
  responses: {
    200: runAnswer("settled within Prefer: wait"),
    202: runAnswer("started (or found), not settled"),
    ...errors(400, 401, 409, 413, 415, 422, 500),
  },
});

/** Every route the Worker serves, in the order of docs/api.md#routes. */
export const ROUTES = [
  healthRoute,
  openApiRoute,
  whoamiRoute,
  listRunsRoute,
  createRunRoute,
  getRunRoute,
  getEnvelopeRoute,
  getReceiptRoute,
  runEventsRoute,
  cancelRunRoute,
  getOutputRoute,
  listEndpointsRoute,
  putEndpointRoute,
  getEndpointRoute,
  deleteEndpointRoute,
  listAgentsRoute,
  connectAgentRoute,
  ciHookRoute,
  listToolsRoute,
  getToolRoute,
  replayRunRoute,
] as const;

/** The scope a route's bearer token needs; undefined for the open routes (health, the document, the CI hook). */
export function scopeOf(route: {
  security?: readonly Record<string, readonly string[]>[];
}): Scope | undefined {
  return route.security?.[0]?.[BEARER]?.[0] as Scope | undefined;
}
