import { z } from "zod";

/** Root every local-scope artifact lives under, as the container sees it (docs/contract.md#write_prefix). */
export const ARTIFACTS_ROOT = "/artifacts/";
/** The index every run writes beside its outputs. */
export const OUTPUT_INDEX = "outputs.json";

export const PLATFORMS = ["amd64", "arm64"] as const;
export const PlatformSchema = z.enum(PLATFORMS);
export type Platform = z.infer<typeof PlatformSchema>;

export const DigestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/, "must be sha256:<64 lowercase hex>");
export type Digest = z.infer<typeof DigestSchema>;

/** `repository@sha256:…` or a bare `sha256:…`; the digest part is what is compared. */
export const OciRefSchema = z
  .string()
  .regex(/^([a-z0-9][a-z0-9._:/-]*@)?sha256:[a-f0-9]{64}$/, "must be IMAGE@sha256:<hex> or sha256:<hex>");

/** A single safe path segment, so it can key storage and name a Durable Object. */
export const RunIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, "must be 1-128 of [A-Za-z0-9_-], starting alphanumeric");

export const AgentIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be 1-63 of [a-z0-9-], starting alphanumeric");

export const WorldIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be 1-63 of [a-z0-9-], starting alphanumeric");

/** The longest file name common file systems hold (ext4, APFS, NTFS): NAME_MAX, in bytes. */
export const MAX_SEGMENT_BYTES = 255;

/** One path segment: ASCII only, so its length in characters is its length in bytes. */
const SEGMENT = `[A-Za-z0-9_-][A-Za-z0-9._-]{0,${MAX_SEGMENT_BYTES - 1}}`;

/**
 * A relative artifact path such as `text/response.txt`: no leading slash, no empty, `.` or `..`
 * segments (a segment may not start with a dot at all), no backslashes, no segment over 255 bytes.
 */
export const RelativePathSchema = z
  .string()
  .max(512)
  .regex(
    new RegExp(`^${SEGMENT}(/${SEGMENT})*$`),
    `must be a relative path of [A-Za-z0-9._-] segments of at most ${MAX_SEGMENT_BYTES} bytes`,
  );

const NORMALIZED_ABSOLUTE_DIR = new RegExp(`^/(${SEGMENT}/)+$`);

/** Why `prefix` is not a valid write_prefix, or undefined when it is (docs/contract.md#write_prefix). */
export function writePrefixProblem(prefix: string): string | undefined {
  if (!prefix.startsWith("/")) return "must be absolute";
  if (prefix.includes("~")) return "must be expanded (no ~)";
  if (prefix.split("/").some((segment) => segment === ".." || segment === "."))
    return "must not contain . or ..";
  if (!prefix.endsWith("/")) return "must end with /";
  if (prefix.split("/").some((segment) => segment.length > MAX_SEGMENT_BYTES))
    return `must have segments of at most ${MAX_SEGMENT_BYTES} bytes`;
  if (!NORMALIZED_ABSOLUTE_DIR.test(prefix)) return "must be a normalized path of [A-Za-z0-9._-] segments";
  if (!prefix.startsWith(ARTIFACTS_ROOT) || prefix === ARTIFACTS_ROOT)
    return `must be under ${ARTIFACTS_ROOT}`;
  return undefined;
}

export const WritePrefixSchema = z
  .string()
  .max(1024)
  .superRefine((prefix, ctx) => {
    const problem = writePrefixProblem(prefix);
    if (problem) ctx.addIssue({ code: "custom", message: `write_prefix ${problem}` });
  });

export const EnvNameSchema = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name");

export const HttpUrlSchema = z.url({ protocol: /^https?$/ });

/**
 * The secret a processor admits `/run` with (docs/contract.md#processor-auth): bearer-token
 * characters, long enough that it cannot be guessed.
 */
export const ProcessorTokenSchema = z
  .string()
  .regex(/^[A-Za-z0-9._~+/-]{32,512}=*$/, "must be 32-512 bearer-token characters [A-Za-z0-9._~+/-]");

export const ModeSchema = z.enum(["mock", "real"]);
export type Mode = z.infer<typeof ModeSchema>;

export const ArtifactScopeSchema = z.enum(["world", "local"]);
export type ArtifactScope = z.infer<typeof ArtifactScopeSchema>;

export const TargetSchema = z.enum(["modal", "local"]);
export type Target = z.infer<typeof TargetSchema>;
