import type { z } from "zod";
import { EnvFingerprintSchema } from "../../src/contract/envelope.ts";
import { DigestSchema, HttpUrlSchema } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { probeHealth } from "../../src/core/health.ts";
import { PROCESSOR_TOKEN_ENV } from "../../src/core/processor-auth.ts";
import { toolDefinition } from "../../src/core/tool-inputs.ts";
import { envFingerprint, lookupTool } from "../../src/core/tool-registry.ts";
import { type CommandInput, defineCommand, type OptionSpecs } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { type ConformanceTarget, renderReport, runConformance } from "../conformance/kit.ts";
import { localArtifactsDir } from "../localctl/start.ts";
import { localUrl, readContainers } from "../localctl/state.ts";
import { loadToolRegistry } from "../tool-registry/load.ts";

const OPTIONS = {
  url: { type: "string", placeholder: "URL", description: "a running processor, http://HOST:PORT" },
  ref: {
    type: "string",
    placeholder: "R",
    description: "the container `theory localctl start` started for R (its port, digest and artifacts)",
  },
  tool: {
    type: "string",
    placeholder: "R",
    description: "the tool the processor at --url serves (a ref defined in src/contract/tools)",
  },
  artifacts: {
    type: "string",
    placeholder: "DIR",
    description: "where the processor's /artifacts/ is on this machine (--ref: $THEORY_HOME/artifacts)",
  },
  "image-digest": {
    type: "string",
    placeholder: "sha256:…",
    description: "the processor's IMAGE_DIGEST (--ref: the started one; else the first envelope's)",
  },
  "env-fingerprint": {
    type: "string",
    placeholder: "FP",
    description: "the processor's ENV_FINGERPRINT (--ref: the registry's; else the first envelope's)",
  },
  token: {
    type: "string",
    placeholder: "TOKEN",
    description: `sent as Authorization: Bearer to the processor (${PROCESSOR_TOKEN_ENV}); never logged`,
  },
  check: {
    type: "string",
    placeholder: "NAMES",
    description: "only these checks, comma-separated (default: all)",
  },
} as const satisfies OptionSpecs;

type Values = CommandInput<typeof OPTIONS>["values"];

/** A flag's value when it is absent or valid; a value the schema refuses is ERR_INPUTS naming the flag. */
function validFlag(value: string | undefined, flag: string, schema: z.ZodType): string | undefined {
  if (value !== undefined && !schema.safeParse(value).success)
    throw new TheoryError("ERR_INPUTS", `${flag} ${JSON.stringify(value)} is not valid`);
  return value;
}

/** What the kit is pointed at: --url with --tool, or --ref read from localctl's state file. */
async function targetOf(values: Values, context: CliContext): Promise<ConformanceTarget> {
  const token = values.token ?? (context.env[PROCESSOR_TOKEN_ENV] || undefined);
  const given = {
    ...(token ? { token } : {}),
    artifactsDir: values.artifacts,
    imageDigest: validFlag(values["image-digest"], "--image-digest", DigestSchema),
    envFingerprint: validFlag(values["env-fingerprint"], "--env-fingerprint", EnvFingerprintSchema),
  };
  if (values.url !== undefined) {
    const url = validFlag(values.url, "--url", HttpUrlSchema) as string;
    if (values.tool === undefined)
      throw new TheoryError(
        "ERR_INPUTS",
        "--tool R is required with --url: the kit builds the tool's inputs",
      );
    return { url, tool: toolDefinition(values.tool), ...given };
  }
  const ref = values.ref as string;
  if (values.tool !== undefined && values.tool !== ref)
    throw new TheoryError("ERR_INPUTS", `--tool ${values.tool} differs from --ref ${ref}`);
  const record = (await readContainers(context.config.home))[ref];
  if (!record)
    throw new TheoryError(
      "ERR_NOT_FOUND",
      `${ref} is not started here: theory localctl start --ref ${ref} --platform P`,
    );
  const registry = await loadToolRegistry(context.config.registry);
  return {
    url: localUrl(record.port),
    tool: toolDefinition(ref),
    ...given,
    // The token localctl started the container with, unless one was given.
    token: given.token ?? record.processor_token,
    artifactsDir: given.artifactsDir ?? localArtifactsDir(context.config.home),
    imageDigest: given.imageDigest ?? record.image_digest,
    envFingerprint: given.envFingerprint ?? envFingerprint(lookupTool(registry, ref).resources),
  };
}

async function run({ values }: CommandInput<typeof OPTIONS>, context: CliContext): Promise<CommandResult> {
  const target = await targetOf(values, context);
  // Nothing answering at all is not a verdict on the contract: say so instead of failing every check.
  const health = await probeHealth(target.url, { timeoutMs: 5000 });
  if (health.state === "unreachable")
    throw new TheoryError("ERR_ENDPOINT_MISSING", `nothing answers at ${target.url}`);
  const only = values.check
    ?.split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  const log = context.log.child({ ref: target.tool.ref });
  log.info("conformance.start", { url: target.url });
  const result = await runConformance(target, { ...(only ? { only } : {}), log });
  log.info("conformance.done", { ...result.summary });
  // A processor breaking the contract is what the control plane settles as ERR_INTERNAL: exit 1.
  const code = result.status === "fail" ? ("ERR_INTERNAL" as const) : undefined;
  return values.json ? { value: result, code } : { raw: renderReport(result), code };
}

export const command = defineCommand({
  name: "conformance",
  summary: "check a processor, written in any language, against the processor contract",
  options: OPTIONS,
  oneOf: ["url", "ref"],
  notes:
    "Prints a line per check (observed and expected when it fails) and a summary; --json prints one " +
    "result object. Exit status 0 when every check passes, 1 (ERR_INTERNAL) when any fails, 7 " +
    "(ERR_ENDPOINT_MISSING) when nothing answers. It starts nothing: --ref needs `theory localctl start`. " +
    "See docs/processors.md.",
  run,
});
