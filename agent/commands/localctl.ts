import { PlatformSchema } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { CliContext, Command, CommandResult } from "../cli/context.ts";
import { parseFlags, positiveIntFlag, requiredFlag } from "../cli/flags.ts";
import { envelopeResult, readDirectRunArgs, tokenEcho } from "../direct-run/cli.ts";
import { LocalContainers } from "../docker/containers.ts";
import { connectDocker, ensureEngine } from "../docker/engine.ts";
import { runLocal } from "../localctl/run.ts";
import { type LocalDeps, startLocal, stopLocal } from "../localctl/start.ts";
import { type ContainerRecord, containerHealthy, readContainers } from "../localctl/state.ts";
import { loadToolRegistry } from "../tool-registry/load.ts";

const USAGE = `usage: theory localctl <subcommand> [--json]
  start  --ref R --platform amd64|arm64 [--oci IMAGE@sha256:…] [--name NAME]
         start the ref's container by digest (the registry pin, or --oci), secrets from the environment
  stop   --ref R                       stop and remove the container, forget it
  status [--ref R]                     running, healthy, port and digest of one or every started ref
  logs   --ref R [--tail N]            the container's stdout and stderr
  run    --ref R --mode mock|real (--inputs-json JSON | --inputs-file PATH | --inputs -)
         [--run-id ID] [--write-prefix /artifacts/…] [--expected-oci IMAGE@sha256:…] [--timeout S]
         run on the started container; prints the canonical envelope
`;

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

async function start(args: string[], context: CliContext): Promise<CommandResult> {
  const { values } = parseFlags(args, {
    ref: { type: "string" },
    platform: { type: "string" },
    oci: { type: "string" },
    name: { type: "string" },
  });
  const ref = requiredFlag(values.ref, "--ref");
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

async function stop(args: string[], context: CliContext): Promise<CommandResult> {
  const { values } = parseFlags(args, { ref: { type: "string" } });
  return { value: await stopLocal(requiredFlag(values.ref, "--ref"), depsOf(context)) };
}

async function status(args: string[], context: CliContext): Promise<CommandResult> {
  const { values } = parseFlags(args, { ref: { type: "string" } });
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

async function logs(args: string[], context: CliContext): Promise<CommandResult> {
  const { values } = parseFlags(args, { ref: { type: "string" }, tail: { type: "string" } });
  const ref = requiredFlag(values.ref, "--ref");
  const tail = positiveIntFlag(values.tail, "--tail", 1_000_000);
  const record = (await readContainers(context.config.home))[ref];
  if (!record) throw new TheoryError("ERR_NOT_FOUND", `${ref} is not started here`);
  const docker = connectDocker(context.config.dockerSocket);
  await ensureEngine(docker);
  const text = await new LocalContainers(docker, context.log).logs(record.container_id, tail);
  // The text as it is; under --json, an object carrying it (stdout stays one JSON value).
  return values.json ? { value: { ref, container_id: record.container_id, logs: text } } : { raw: text };
}

async function run(args: string[], context: CliContext): Promise<CommandResult> {
  const request = await readDirectRunArgs(args, context);
  const registry = await loadToolRegistry(context.config.registry);
  const echo = tokenEcho(context);
  const result = await runLocal(registry, request, { ...depsOf(context), onFrame: echo.onFrame });
  echo.done();
  return envelopeResult(result);
}

const SUBCOMMANDS: Record<string, (args: string[], context: CliContext) => Promise<CommandResult>> = {
  start,
  stop,
  status,
  logs,
  run,
};

export const command: Command = {
  summary: "start|stop|status|logs|run a tool's container on this machine's Docker engine",
  async run(args, context) {
    const [name, ...rest] = args;
    if (name === "--help" || name === "-h" || rest.includes("--help") || rest.includes("-h"))
      return { raw: USAGE };
    if (name === undefined)
      throw new TheoryError("ERR_INPUTS", "give a subcommand: start|stop|status|logs|run (see --help)");
    const subcommand = SUBCOMMANDS[name];
    if (!subcommand)
      throw new TheoryError("ERR_INPUTS", `unknown localctl subcommand ${JSON.stringify(name)}`);
    return subcommand(rest, context);
  },
};
