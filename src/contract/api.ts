import { z } from "zod";
import { EnvelopeSchema } from "./envelope.ts";
import {
  AgentIdSchema,
  ArtifactScopeSchema,
  DigestSchema,
  HttpUrlSchema,
  InputsSchema,
  ModeSchema,
  OciRefSchema,
  ProcessorTokenSchema,
  RunIdSchema,
  TargetSchema,
  WritePrefixSchema,
} from "./primitives.ts";
import { RefSchema } from "./ref.ts";

export const WebhookEventSchema = z.enum(["start", "completed"]);

/** `POST /v1/runs` (docs/api.md#runs). */
export const RunRequestSchema = z
  .strictObject({
    ref: RefSchema,
    run_id: RunIdSchema.optional(),
    mode: ModeSchema,
    inputs: InputsSchema,
    target: TargetSchema,
    agent: AgentIdSchema.optional(),
    artifact_scope: ArtifactScopeSchema,
    write_prefix: WritePrefixSchema.optional(),
    expected_oci: OciRefSchema.optional(),
    timeout_s: z.int().min(1).max(3600).optional(),
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

/** `GET /v1/runs/{id}`. */
export const RunResourceSchema = z.strictObject({
  run_id: RunIdSchema,
  ref: RefSchema,
  target: TargetSchema,
  state: RunStateSchema,
  envelope: EnvelopeSchema.nullable(),
});
export type RunResource = z.infer<typeof RunResourceSchema>;

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

/** What `PUT` and `GET /v1/endpoints/{ref}` answer: the registration without its token. */
export const EndpointResourceSchema = z.strictObject({
  ref: RefSchema,
  url: HttpUrlSchema,
  image_digest: DigestSchema,
  /** Present (true) only for an endpoint behind Modal's proxy auth. */
  proxy_auth: z.literal(true).optional(),
});
export type EndpointResource = z.infer<typeof EndpointResourceSchema>;

/** A registration as the API shows it: never its token. */
export function endpointResource(ref: string, registration: EndpointRegistration): EndpointResource {
  return {
    ref,
    url: registration.url,
    image_digest: registration.image_digest,
    ...(registration.proxy_auth ? { proxy_auth: true as const } : {}),
  };
}

/** Bearer token scopes (docs/api.md#authentication). */
export const SCOPES = ["runs:write", "runs:read", "endpoints:write", "agents:connect"] as const;
export const ScopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof ScopeSchema>;

/**
 * What happened around a run, stored beside its envelope: everything an envelope must never carry
 * (target, agent, timings, byte counts, attempts).
 */
export const ReceiptSchema = z.strictObject({
  run_id: RunIdSchema,
  ref: RefSchema,
  target: TargetSchema,
  agent: AgentIdSchema.optional(),
  state: RunStateSchema,
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
