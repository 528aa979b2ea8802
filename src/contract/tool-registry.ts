import { z } from "zod";
import { DigestSchema, EnvNameSchema, PLATFORMS } from "./primitives.ts";
import { RefSchema } from "./ref.ts";

/** An image repository without tag or digest: tools are deployed by pinned digest only. */
const ImageRepositorySchema = z
  .string()
  .regex(
    /^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9][a-z0-9._-]*)+$/,
    "must be an image repository (host[:port]/path) without tag or digest",
  );

export const ResourcesSchema = z.strictObject({
  cpu: z.number().positive(),
  memory: z.string().regex(/^[1-9][0-9]*(Mi|Gi)$/, "must be like 512Mi or 2Gi"),
});
export type Resources = z.infer<typeof ResourcesSchema>;

export const ToolEntrySchema = z.strictObject({
  image: ImageRepositorySchema,
  /** Filled by `imagectl pin`; empty until a digest was pushed for that platform. */
  digests: z.strictObject(
    Object.fromEntries(PLATFORMS.map((p) => [p, DigestSchema.optional()])) as {
      [P in (typeof PLATFORMS)[number]]: z.ZodOptional<typeof DigestSchema>;
    },
  ),
  port: z.int().min(1).max(65535),
  resources: ResourcesSchema,
  secrets: z.array(EnvNameSchema),
  /**
   * The tool's inputs and outputs: the JSON Schema its definition exports (schema/tools/{ref_slug}.json),
   * so the control plane knows them without asking a container.
   */
  schema: z.string().regex(/^schema\/tools\/[a-z0-9.-]+\.json$/, "must be schema/tools/<ref_slug>.json"),
  timeout_s: z.int().min(1).max(3600),
  modal: z.strictObject({
    app: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be a Modal app name of [a-z0-9-]"),
    /** The web endpoint's function in that app (a Python function name); `serve` when absent. */
    function: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,63}$/, "must be a Python function name of [a-z0-9_]")
      .optional(),
  }),
});
export type ToolEntry = z.infer<typeof ToolEntrySchema>;

export const ToolRegistrySchema = z.strictObject({
  schema: z.literal("v1"),
  tools: z.record(RefSchema, ToolEntrySchema),
});
export type ToolRegistry = z.infer<typeof ToolRegistrySchema>;
