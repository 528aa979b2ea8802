import { z } from "zod";
import { ErrorCodeSchema, STDERR_TAIL_MAX_BYTES } from "./errors.ts";
import { DigestSchema, RelativePathSchema, RunIdSchema } from "./primitives.ts";

/** `world://<world_id>/<run_id>/<path>` (world scope) or `local://<path under /artifacts/>`. */
export const ArtifactUriSchema = z
  .string()
  .max(2048)
  .regex(
    /^(world:\/\/[a-z0-9][a-z0-9-]*\/|local:\/\/)[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/,
    "must be a world:// or local:// artifact URI",
  );

/** What S3 returns for a single PUT: the MD5 hex of the bytes (quotes stripped). */
export const EtagSchema = z.string().regex(/^[a-f0-9]{32}(-[0-9]+)?$/, "must be an S3 ETag without quotes");

/** `cpu:1;memory:2Gi`: the tool registry's declared resources, never measured values. */
export const EnvFingerprintSchema = z
  .string()
  .regex(/^[a-z]+:[^;:\s]+(;[a-z]+:[^;:\s]+)*$/, "must be key:value pairs joined by ;");

const utf8Bytes = (text: string) => new TextEncoder().encode(text).byteLength;

export const ErrorBodySchema = z.strictObject({
  code: ErrorCodeSchema,
  message: z.string().min(1).max(512),
  stderr_tail: z
    .string()
    .refine((tail) => utf8Bytes(tail) <= STDERR_TAIL_MAX_BYTES, `at most ${STDERR_TAIL_MAX_BYTES} bytes`)
    .optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export const OutputSchema = z.strictObject({ path: ArtifactUriSchema });
export type Output = z.infer<typeof OutputSchema>;

export const SuccessEnvelopeSchema = z.strictObject({
  status: z.literal("success"),
  run_id: RunIdSchema,
  outputs: z.array(OutputSchema),
  index_path: ArtifactUriSchema,
  meta: z.strictObject({
    env_fingerprint: EnvFingerprintSchema,
    image_digest: DigestSchema,
    proof: z.strictObject({ etag_map: z.record(RelativePathSchema, EtagSchema) }),
  }),
});
export type SuccessEnvelope = z.infer<typeof SuccessEnvelopeSchema>;

const ErrorMetaSchema = z.strictObject({
  env_fingerprint: EnvFingerprintSchema,
  /** Absent when no image was started (e.g. the endpoint could not be reached). */
  image_digest: DigestSchema.optional(),
});

export const ErrorEnvelopeSchema = z.strictObject({
  status: z.literal("error"),
  run_id: RunIdSchema,
  error: ErrorBodySchema,
  meta: ErrorMetaSchema,
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

export const EnvelopeSchema = z.discriminatedUnion("status", [SuccessEnvelopeSchema, ErrorEnvelopeSchema]);
export type Envelope = z.infer<typeof EnvelopeSchema>;

/** Every API error body: an error envelope whose run_id and meta are present when known. */
export const ApiErrorSchema = ErrorEnvelopeSchema.extend({
  run_id: RunIdSchema.optional(),
  meta: ErrorMetaSchema.optional(),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;

/** `outputs.json`, written beside the outputs: what was written, with sizes and ETags. */
export const OutputIndexSchema = z.strictObject({
  run_id: RunIdSchema,
  outputs: z.array(z.strictObject({ path: RelativePathSchema, size: z.int().min(0), etag: EtagSchema })),
});
export type OutputIndex = z.infer<typeof OutputIndexSchema>;
