import { z } from "zod";
import { AgentToolSchema } from "./agent-frames.ts";
import { EnvelopeSchema } from "./envelope.ts";
import {
  AgentIdSchema,
  ArtifactScopeSchema,
  DigestSchema,
  HttpUrlSchema,
  ModeSchema,
  OciRefSchema,
  PlatformSchema,
  ProcessorTokenSchema,
  RunIdSchema,
  TargetSchema,
  WritePrefixSchema,
} from "./primitives.ts";
import { RefSchema } from "./ref.ts";
import { InputsEnvelopeSchema } from "./tools/definition.ts";

export const WebhookEventSchema = z.enum(["start", "completed"]);

/** Limits on a run's labels (docs/api.md#tags-and-metadata): small enough to index and to send along. */
export const MAX_TAGS = 10;
export const MAX_METADATA_KEYS = 16;
export const MAX_METADATA_VALUE_CHARS = 256;

/** A tag: 1-64 of [A-Za-z0-9_.:/=-], starting alphanumeric (`nightly`, `team:ml`, `pr-42`). */
export const TagSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/=-]{0,63}$/, "must be 1-64 of [A-Za-z0-9_.:/=-], starting alphanumeric");

export const TagsSchema = z
  .array(TagSchema)
  .max(MAX_TAGS)
  .refine((tags) => new Set(tags).size === tags.length, "tags must be unique");

/** A flat object of short strings; keys 1-64 of [A-Za-z0-9_.-], starting alphanumeric. */
export const MetadataSchema = z
  .record(
    z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
        "keys must be 1-64 of [A-Za-z0-9_.-], starting alphanumeric",
      ),
    z.string().max(MAX_METADATA_VALUE_CHARS),
  )
  .refine(
    (metadata) => Object.keys(metadata).length <= MAX_METADATA_KEYS,
    `at most ${MAX_METADATA_KEYS} keys`,
  );

/** `POST /v1/runs` (docs/api.md#runs). */
export const RunRequestSchema = z
  .strictObject({
    ref: RefSchema,
    run_id: RunIdSchema.optional(),
    mode: ModeSchema,
    inputs: InputsEnvelopeSchema,
    target: TargetSchema,
    agent: AgentIdSchema.optional(),
    artifact_scope: ArtifactScopeSchema,
    write_prefix: WritePrefixSchema.optional(),
    expected_oci: OciRefSchema.optional(),
    timeout_s: z.int().min(1).max(3600).optional(),
    /** Labels for finding the run again; never sent to the processor, never in the envelope. */
    tags: TagsSchema.optional(),
    metadata: MetadataSchema.optional(),
    webhook: z
      .strictObject({
        url: HttpUrlSchema,
        events: z
          .array(WebhookEventSchema)
          .min(1)
          .refine((e) => new Set(e).size === e.length, "events must be unique"),
      })
      .optional(),
  })
  .superRefine((request, ctx) => {
    if (request.target === "local" && request.agent === undefined) {
      ctx.addIssue({ code: "custom", path: ["agent"], message: 'target "local" needs an agent' });
    }
    if (request.target === "modal" && request.agent !== undefined) {
      ctx.addIssue({ code: "custom", path: ["agent"], message: 'agent applies only to target "local"' });
    }
  });
export type RunRequest = z.infer<typeof RunRequestSchema>;

export const RUN_STATES = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export const RunStateSchema = z.enum(RUN_STATES);
export type RunState = z.infer<typeof RunStateSchema>;

export function isTerminal(state: RunState): boolean {
  return state === "succeeded" || state === "failed" || state === "canceled";
}

/** What names a run wherever it is shown: the resource, a listing's row, the receipt. */
const runIdentityFields = {
  run_id: RunIdSchema,
  ref: RefSchema,
  target: TargetSchema,
  /** The agent a local run was sent to. */
  agent: AgentIdSchema.optional(),
  state: RunStateSchema,
};

/** `GET /v1/runs/{id}`. */
export const RunResourceSchema = z.strictObject({
  ...runIdentityFields,
  envelope: EnvelopeSchema.nullable(),
  /** As the request gave them; absent when it gave none. */
  tags: TagsSchema.optional(),
  metadata: MetadataSchema.optional(),
  /** A replay: the run it replayed (docs/api.md#replay). */
  replay_of: RunIdSchema.optional(),
  /** The replays of this run, oldest first. */
  replays: z.array(RunIdSchema).optional(),
});
export type RunResource = z.infer<typeof RunResourceSchema>;

/**
 * `POST /v1/runs/{id}/replay`: run a settled run's exact request again, on its target or another
 * (docs/api.md#replay). `run_id` names the replay (a fresh UUID when absent).
 */
export const ReplayRequestSchema = z.strictObject({
  target: TargetSchema.optional(),
  agent: AgentIdSchema.optional(),
  run_id: RunIdSchema.optional(),
});
export type ReplayRequest = z.infer<typeof ReplayRequestSchema>;

/** How long POST /v1/runs/{id}/replay waits for the replay to settle before answering `pending`. */
export const REPLAY_WAIT_S = 60;

/** What a replay found: `identical`, `drifted` (with each differing field), or `pending` (not settled in time). */
export const ReplayVerdictSchema = z.strictObject({
  verdict: z.enum(["identical", "drifted", "pending"]),
  original: RunIdSchema,
  replay: RunResourceSchema,
  /** Each field that differs; a side without the field has no value (e.g. `error.code` of a success). */
  differences: z.array(
    z.strictObject({ field: z.string(), original: z.unknown().optional(), replay: z.unknown().optional() }),
  ),
});
export type ReplayVerdict = z.infer<typeof ReplayVerdictSchema>;

/** `PUT /v1/endpoints/{ref}`: what `modalctl start` registers (docs/api.md#endpoints). */
export const EndpointRegistrationSchema = z.strictObject({
  url: HttpUrlSchema,
  image_digest: DigestSchema,
  /** Write-only: the processor's token, kept server-side and sent on each run's handshake. */
  processor_token: ProcessorTokenSchema,
  /** The endpoint sits behind Modal's proxy auth (a web endpoint): only then Modal-Key/Secret go to it. */
  proxy_auth: z.boolean().optional(),
});
export type EndpointRegistration = z.infer<typeof EndpointRegistrationSchema>;

/** `GET /v1/endpoints/{ref}` (and the PUT's answer): the registration under its ref, without its token. */
export const EndpointSchema = z.strictObject({
  ref: RefSchema,
  url: HttpUrlSchema,
  image_digest: DigestSchema,
  /** Present (true) only for an endpoint behind Modal's proxy auth. */
  proxy_auth: z.literal(true).optional(),
});
export type Endpoint = z.infer<typeof EndpointSchema>;

/** A registration as the API shows it: never its token. */
export function endpointResource(ref: string, registration: EndpointRegistration): Endpoint {
  return {
    ref,
    url: registration.url,
    image_digest: registration.image_digest,
    ...(registration.proxy_auth ? { proxy_auth: true as const } : {}),
  };
}

/** `GET /v1/runs`: one page holds at most this many runs; RUN_PAGE_DEFAULT when `limit` is absent. */
export const MAX_RUN_PAGE = 100;
export const RUN_PAGE_DEFAULT = 20;

/** `GET /v1/runs` query (docs/api.md#listing-runs): every filter is optional, all given must match. */
export const RunListQuerySchema = z.strictObject({
  ref: RefSchema.optional(),
  state: RunStateSchema.optional(),
  target: TargetSchema.optional(),
  agent: AgentIdSchema.optional(),
  tag: TagSchema.optional(),
  created_after: z.iso.datetime({ offset: true }).optional(),
  created_before: z.iso.datetime({ offset: true }).optional(),
  /** `next_cursor` of the page before: the page after it. Opaque. */
  cursor: z.string().min(1).max(512).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_RUN_PAGE).optional(),
});
export type RunListQuery = z.infer<typeof RunListQuerySchema>;

/** One run in a listing: what the index holds (the envelope is `GET /v1/runs/{id}`'s). */
export const RunSummarySchema = z.strictObject({
  ...runIdentityFields,
  tags: TagsSchema.optional(),
  metadata: MetadataSchema.optional(),
  created_at: z.iso.datetime(),
  settled_at: z.iso.datetime().optional(),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

/** A page of runs, newest first; `next_cursor` is null on the last page. */
export const RunPageSchema = z.strictObject({
  runs: z.array(RunSummarySchema),
  next_cursor: z.string().nullable(),
});
export type RunPage = z.infer<typeof RunPageSchema>;

/** What `GET /v1/agents` shows of one agent: its tunnel, and its last `Hello`. */
export const AgentStatusSchema = z.strictObject({
  agent_id: AgentIdSchema,
  online: z.boolean(),
  last_seen: z.iso.datetime().nullable(),
  platform: PlatformSchema.nullable(),
  tools: z.array(AgentToolSchema),
});
export type AgentStatus = z.infer<typeof AgentStatusSchema>;

/** Bearer token scopes (docs/api.md#authentication). */
export const SCOPES = ["runs:write", "runs:read", "endpoints:write", "agents:connect"] as const;
export const ScopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof ScopeSchema>;

/** `GET /v1/whoami`: the presented token's grant as AUTH_TOKENS holds it, without its hash. */
export const WhoamiSchema = z.strictObject({
  name: z.string().min(1).max(64),
  scopes: z.array(ScopeSchema),
  /** The agent an agents:connect token is bound to. */
  agent: AgentIdSchema.optional(),
});
export type Whoami = z.infer<typeof WhoamiSchema>;

/**
 * What happened around a run, stored beside its envelope: everything an envelope must never carry
 * (target, agent, timings, byte counts, attempts).
 */
export const ReceiptSchema = z.strictObject({
  ...runIdentityFields,
  attempts: z.array(
    z.strictObject({ started_at: z.iso.datetime(), outcome: z.string().max(64), acked: z.boolean() }),
  ),
  timings: z.strictObject({
    queued_at: z.iso.datetime(),
    started_at: z.iso.datetime().optional(),
    acked_at: z.iso.datetime().optional(),
    settled_at: z.iso.datetime(),
    duration_ms: z.int().min(0),
  }),
  frames: z.strictObject({ total: z.int().min(0), tokens: z.int().min(0), bytes_in: z.int().min(0) }),
  /**
   * What the run's event log kept for replay: frames stored, in how many rows, and how many frames
   * past the storage bound only live subscribers saw.
   */
  events: z
    .strictObject({ stored: z.int().min(0), rows: z.int().min(0), dropped: z.int().min(0) })
    .optional(),
  envelope: z.strictObject({ bytes: z.int().min(0), sha256: z.string().regex(/^[a-f0-9]{64}$/) }),
  /** Outbound webhook deliveries, every attempt (rewritten as attempts happen after settling). */
  webhooks: z
    .array(
      z.strictObject({
        event: WebhookEventSchema,
        webhook_id: z.string(),
        delivered: z.boolean(),
        attempts: z.array(
          z.strictObject({ at: z.iso.datetime(), status: z.int().optional(), error: z.string().optional() }),
        ),
      }),
    )
    .optional(),
});
export type Receipt = z.infer<typeof ReceiptSchema>;

/** `GET /v1/tools/{ref}`: a tool this control plane can run, with its schemas (docs/api.md#tools). */
export const ToolResourceSchema = z.strictObject({
  ref: RefSchema,
  /** The input schema versions it takes (`inputs.schema`). */
  schemas: z.array(z.string()),
  /** The JSON Schema of its `inputs` (schema/tools/{ref_slug}.json); `$defs.outputs` its outputs. */
  json_schema: z.record(z.string(), z.unknown()),
  outputs: z.array(z.string()),
  resources: z.strictObject({ cpu: z.number(), memory: z.string() }),
  timeout_s: z.int(),
  /** Environment variables it needs in mode "real". */
  secrets: z.array(z.string()),
  /** The platforms it is pinned for, with the pinned digest: the lanes it can run on. */
  platforms: z.array(z.strictObject({ platform: PlatformSchema, image_digest: DigestSchema })),
});
export type ToolResource = z.infer<typeof ToolResourceSchema>;
