import { PlatformSchema } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { type CommandInput, defineCommand, type OptionSpecs, positiveIntFlag } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { INPUT_FLAGS } from "../cli/inputs.ts";
import { DIRECT_RUN_OPTIONS, envelopeResult, readDirectRunArgs, tokenEcho } from "../direct-run/cli.ts";
import { LocalContainers } from "../docker/containers.ts";
import { connectDocker, ensureEngine } from "../docker/engine.ts";
import { runLocal } from "../localctl/run.ts";
import { type LocalDeps, startLocal, stopLocal } from "../localctl/start.ts";
import { type ContainerRecord, containerHealthy, readContainers } from "../localctl/state.ts";
import { loadToolRegistry } from "../tool-registry/load.ts";

const REF = { type: "string", placeholder: "R", description: "the tool's ref, e.g. echo/text@1" } as const;
const REQUIRED_REF = { ...REF, required: true } as const;

function depsOf(context: CliContext): LocalDeps {
  return {
    config: context.config,
    log: context.log,
    signal: context.signal,
    progress: (line) => {
      if (context.stderrIsTTY) process.stderr.write(`localctl: ${line}\n`);
    },
  };
}

const START_OPTIONS = {
  ref: REQUIRED_REF,
  platform: {
    type: "string",
    placeholder: "amd64|arm64",
    description: "the image's platform: its digest is the registry's pin for it",
    required: true,
  },
  oci: {
    type: "string",
    placeholder: "IMAGE@sha256:…",
    description: "start this image (by digest) instead of the registry's pin",
  },
  name: {
    type: "string",
    placeholder: "NAME",
    description: "the container's name (default theory-{ref_slug})",
  },
} as const satisfies OptionSpecs;

async function start(
  { values }: CommandInput<typeof START_OPTIONS>,
  context: CliContext,
): Promise<CommandResult> {
  const ref = values.ref;
  const platform = PlatformSchema.safeParse(values.platform);
  if (!platform.success) throw new TheoryError("ERR_INPUTS", "--platform amd64|arm64 is required");
  const registry = await loadToolRegistry(context.config.registry);
  const result = await startLocal(
    registry,
    context.env,
    { ref, platform: platform.data, oci: values.oci, name: values.name },
    depsOf(context),
  );
  return { value: result };
}

async function stop(
  { values }: CommandInput<{ ref: typeof REQUIRED_REF }>,
  context: CliContext,
): Promise<CommandResult> {
  return { value: await stopLocal(values.ref, depsOf(context)) };
}

async function status(
  { values }: CommandInput<{ ref: typeof REF }>,
  context: CliContext,
): Promise<CommandResult> {
  const records = await readContainers(context.config.home);
  if (values.ref !== undefined && !records[values.ref])
    throw new TheoryError("ERR_NOT_FOUND", `${values.ref} is not started here`);
  const docker = connectDocker(context.config.dockerSocket);
  await ensureEngine(docker);
  const containers = new LocalContainers(docker, context.log);
  const statusOf = async (record: ContainerRecord) => {
    const running = (await containers.find(record.container_id))?.running === true;
    return {
      ref: record.ref,
      running,
      healthy: running && (await containerHealthy(record.port)),
      port: record.port,
      image_digest: record.image_digest,
      container_id: record.container_id,
    };
  };
  if (values.ref !== undefined) return { value: await statusOf(records[values.ref] as ContainerRecord) };
  const all = Object.values(records).sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  return { value: { containers: await Promise.all(all.map(statusOf)) } };
}

const LOGS_OPTIONS = {
  ref: REQUIRED_REF,
  tail: { type: "string", placeholder: "N", description: "only the last N lines" },
} as const satisfies OptionSpecs;

async function logs(
  { values }: CommandInput<typeof LOGS_OPTIONS>,
  context: CliContext,
): Promise<CommandResult> {
  const ref = values.ref;
  const tail = positiveIntFlag(values.tail, "--tail", 1_000_000);
  const record = (await readContainers(context.config.home))[ref];
  if (!record) throw new TheoryError("ERR_NOT_FOUND", `${ref} is not started here`);
  const docker = connectDocker(context.config.dockerSocket);
  await ensureEngine(docker);
  const text = await new LocalContainers(docker, context.log).logs(record.container_id, tail);
  // The text as it is; under --json, an object carrying it (stdout stays one JSON value).
  return values.json ? { value: { ref, container_id: record.container_id, logs: text } } : { raw: text };
}

async function run(
  { values }: CommandInput<typeof DIRECT_RUN_OPTIONS>,
  context: CliContext,
): Promise<CommandResult> {
  const request = await readDirectRunArgs(values, context);
  const registry = await loadToolRegistry(context.config.registry);
  const echo = tokenEcho(context);
  const result = await runLocal(registry, request, { ...depsOf(context), onFrame: echo.onFrame });
  echo.done();
  return envelopeResult(result);
}

export const command = defineCommand({
  name: "localctl",
  summary: "start|stop|status|logs|run a tool's container on this machine's Docker engine",
  subcommands: [
    defineCommand({
      name: "start",
      summary:
        "start the ref's container by digest (the registry pin, or --oci), secrets from the environment " +
        "(the registry names them), and wait until it is healthy",
      options: START_OPTIONS,
      run: start,
    }),
    defineCommand({
      name: "stop",
      summary: "stop and remove the container, forget it",
      options: { ref: REQUIRED_REF },
      run: stop,
    }),
    defineCommand({
      name: "status",
      summary: "running, healthy, port and digest of one (--ref) or every started ref",
      options: { ref: REF },
      run: status,
    }),
    defineCommand({
      name: "logs",
      summary: "the container's stdout and stderr (under --json, an object carrying them)",
      options: LOGS_OPTIONS,
      run: logs,
    }),
    defineCommand({
      name: "run",
      summary: "run on the started container; prints the canonical envelope (exit status: its error code's)",
      options: DIRECT_RUN_OPTIONS,
      oneOf: INPUT_FLAGS,
      run,
    }),
  ],
});
