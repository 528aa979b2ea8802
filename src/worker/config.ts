import { z } from "zod";
import { ScopeSchema } from "../contract/api.ts";
import { AgentIdSchema, WorldIdSchema } from "../contract/primitives.ts";
import { type BackoffPolicy, HEALTH_BACKOFF } from "../core/backoff.ts";
import { TheoryError } from "../core/errors.ts";
import { LOG_LEVELS, type Logger } from "../core/log.ts";
import { describeIssues } from "../core/validation.ts";

/** One bearer token, stored only as the SHA-256 of its value. */
const TokenGrantSchema = z.strictObject({
  name: z.string().min(1).max(64),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, "must be the lowercase hex SHA-256 of the token"),
  scopes: z.array(ScopeSchema).min(1),
  /** For agents:connect: the one agent id this token may connect as. */
  agent: AgentIdSchema.optional(),
});
export type TokenGrant = z.infer<typeof TokenGrantSchema>;

/** A CI system allowed to trigger runs: Standard Webhooks (`whsec_…` secret) or GitHub's HMAC. */
const HookSourceSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be [a-z0-9-]"),
  kind: z.enum(["standard", "github"]),
  secret: z.string().min(16),
});
export type HookSource = z.infer<typeof HookSourceSchema>;

const WhsecSchema = z.string().regex(/^whsec_[A-Za-z0-9+/]+=*$/, "must be a whsec_<base64> secret");

const jsonText = <S extends z.ZodType>(schema: S) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);

const BindingsSchema = z
  .object({
    WORLD_ID: WorldIdSchema,
    STORAGE: z.enum(["r2", "s3"]),
    ENDPOINT_POLICY: z.enum(["https", "https+loopback"]),
    LOG_LEVEL: z.enum(LOG_LEVELS),
    HEALTH_BUDGET_MS: z.coerce.number().int().min(0).max(60_000),
    RUN_RETENTION_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(366 * 24 * 3600),
    AUTH_TOKENS: jsonText(z.array(TokenGrantSchema)),
    S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    S3_REGION: z.string().min(1).optional(),
    S3_BUCKET: z.string().min(1).optional(),
    S3_ACCESS_KEY_ID: z.string().min(1).optional(),
    S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    HOOK_SOURCES: jsonText(z.array(HookSourceSchema)).optional(),
    WEBHOOK_SIGNING_SECRET: WhsecSchema.optional(),
    MODAL_PROXY_KEY: z.string().min(1).optional(),
    MODAL_PROXY_SECRET: z.string().min(1).optional(),
  })
  .superRefine((vars, ctx) => {
    const s3 = [
      vars.S3_ENDPOINT,
      vars.S3_REGION,
      vars.S3_BUCKET,
      vars.S3_ACCESS_KEY_ID,
      vars.S3_SECRET_ACCESS_KEY,
    ];
    if (s3.some((v) => v !== undefined) && s3.some((v) => v === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["S3_ENDPOINT"],
        message: "S3_* settings go together: set all five or none",
      });
    }
    if (vars.STORAGE === "s3" && vars.S3_ENDPOINT === undefined) {
      ctx.addIssue({ code: "custom", path: ["STORAGE"], message: 'STORAGE "s3" needs the S3_* settings' });
    }
    for (const [i, source] of (vars.HOOK_SOURCES ?? []).entries()) {
      if (source.kind === "standard" && !WhsecSchema.safeParse(source.secret).success) {
        ctx.addIssue({
          code: "custom",
          path: ["HOOK_SOURCES", i, "secret"],
          message: "a standard source needs a whsec_<base64> secret",
        });
      }
    }
    if ((vars.MODAL_PROXY_KEY === undefined) !== (vars.MODAL_PROXY_SECRET === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["MODAL_PROXY_KEY"],
        message: "MODAL_PROXY_KEY and MODAL_PROXY_SECRET go together",
      });
    }
  });

export interface S3Settings {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface ControlPlaneConfig {
  worldId: string;
  storage: "r2" | "s3";
  /** Whether http://127.0.0.1 endpoints are admitted besides https ones. */
  allowLoopbackEndpoints: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Health polling before a run: the health backoff (docs/operations.md#retries-health-and-budgets) within this budget. */
  health: BackoffPolicy;
  /** How long a settled run (events, envelope, receipt, world outputs) is kept, then deleted. */
  retentionMs: number;
  tokens: readonly TokenGrant[];
  /** The S3 API used for presigned world-scope URLs (R2's S3 API or AWS), and for storage in "s3". */
  s3?: S3Settings;
  modalProxy?: { key: string; secret: string };
  /** Who may trigger runs through POST /v1/hooks/ci. */
  hookSources: readonly HookSource[];
  /** Signs outbound run webhooks (Standard Webhooks); without it a run cannot ask for one. */
  webhookSigningSecret?: string;
}

const resolved = new WeakMap<object, ControlPlaneConfig>();

/**
 * The one config resolver over the Worker's bindings: validated at first use, cached per bindings
 * object, logged once without secrets. A misconfiguration is ERR_INTERNAL naming the variables.
 */
export function resolveConfig(env: object, log?: Logger): ControlPlaneConfig {
  const cached = resolved.get(env);
  if (cached) return cached;
  const parsed = BindingsSchema.safeParse(env);
  if (!parsed.success) {
    const message = `control plane misconfigured: ${describeIssues(parsed.error)}`;
    log?.error("error.config", { message });
    throw new TheoryError("ERR_INTERNAL", message);
  }
  const vars = parsed.data;
  const config: ControlPlaneConfig = {
    worldId: vars.WORLD_ID,
    storage: vars.STORAGE,
    allowLoopbackEndpoints: vars.ENDPOINT_POLICY === "https+loopback",
    logLevel: vars.LOG_LEVEL,
    health: { ...HEALTH_BACKOFF, totalMs: vars.HEALTH_BUDGET_MS },
    retentionMs: vars.RUN_RETENTION_SECONDS * 1000,
    tokens: vars.AUTH_TOKENS,
    ...(vars.S3_ENDPOINT &&
    vars.S3_REGION &&
    vars.S3_BUCKET &&
    vars.S3_ACCESS_KEY_ID &&
    vars.S3_SECRET_ACCESS_KEY
      ? {
          s3: {
            endpoint: vars.S3_ENDPOINT,
            region: vars.S3_REGION,
            bucket: vars.S3_BUCKET,
            accessKeyId: vars.S3_ACCESS_KEY_ID,
            secretAccessKey: vars.S3_SECRET_ACCESS_KEY,
          },
        }
      : {}),
    hookSources: vars.HOOK_SOURCES ?? [],
    ...(vars.WEBHOOK_SIGNING_SECRET ? { webhookSigningSecret: vars.WEBHOOK_SIGNING_SECRET } : {}),
    ...(vars.MODAL_PROXY_KEY && vars.MODAL_PROXY_SECRET
      ? { modalProxy: { key: vars.MODAL_PROXY_KEY, secret: vars.MODAL_PROXY_SECRET } }
      : {}),
  };
  log?.info("config.resolved", {
    world_id: config.worldId,
    storage: config.storage,
    health_budget_ms: config.health.totalMs,
    run_retention_s: config.retentionMs / 1000,
    allow_loopback_endpoints: config.allowLoopbackEndpoints,
    tokens: config.tokens.map((grant) => grant.name),
    s3_endpoint: config.s3?.endpoint,
    modal_proxy_auth: config.modalProxy !== undefined,
    hook_sources: config.hookSources.map((source) => `${source.name}:${source.kind}`),
    outbound_webhooks: config.webhookSigningSecret !== undefined,
  });
  resolved.set(env, config);
  return config;
}
