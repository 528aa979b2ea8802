import { z } from "zod";
import { EnvFingerprintSchema } from "../src/contract/envelope.ts";
import { DigestSchema, ProcessorTokenSchema } from "../src/contract/primitives.ts";
import { RefSchema } from "../src/contract/ref.ts";
import { TheoryError } from "../src/core/errors.ts";
import { describeIssues } from "../src/core/validation.ts";

/** The container's whole runtime interface is its environment (docs/contract.md#the-processor-image). */
const ProcessorEnvSchema = z.object({
  TOOL_REF: RefSchema,
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  /** 0.0.0.0 so Modal's proxy and a host-network agent both reach it. */
  HOST: z.string().min(1).default("0.0.0.0"),
  IMAGE_DIGEST: DigestSchema,
  ENV_FINGERPRINT: EnvFingerprintSchema,
  ARTIFACTS_ROOT: z.string().startsWith("/", "must be an absolute path").default("/artifacts"),
  /** Admits `/run` (docs/contract.md#processor-auth): a tunnel URL is public, so the run path is not. */
  PROCESSOR_TOKEN: ProcessorTokenSchema,
});

export interface ProcessorConfig {
  toolRef: string;
  port: number;
  host: string;
  imageDigest: string;
  envFingerprint: string;
  /** Where `/artifacts/` of the contract lives on this machine's disk. */
  artifactsRoot: string;
  /** The bearer token `/run` requires; never logged (it is on the logger's secrets list). */
  processorToken: string;
  /** The tool's own secrets and settings are read from here at run time. */
  env: Readonly<Record<string, string | undefined>>;
}

export function loadProcessorConfig(env: Readonly<Record<string, string | undefined>>): ProcessorConfig {
  const parsed = ProcessorEnvSchema.safeParse(env);
  if (!parsed.success)
    throw new TheoryError("ERR_INPUTS", `processor environment: ${describeIssues(parsed.error)}`);
  const vars = parsed.data;
  return {
    toolRef: vars.TOOL_REF,
    port: vars.PORT,
    host: vars.HOST,
    imageDigest: vars.IMAGE_DIGEST,
    envFingerprint: vars.ENV_FINGERPRINT,
    artifactsRoot: vars.ARTIFACTS_ROOT,
    processorToken: vars.PROCESSOR_TOKEN,
    env,
  };
}

/** What is safe to log once at start: everything but `env` and the token, in the log canon's snake_case. */
export function describeConfig(config: ProcessorConfig): Record<string, unknown> {
  return {
    tool_ref: config.toolRef,
    port: config.port,
    host: config.host,
    image_digest: config.imageDigest,
    env_fingerprint: config.envFingerprint,
    artifacts_root: config.artifactsRoot,
  };
}
