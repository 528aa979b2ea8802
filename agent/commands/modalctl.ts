import { TheoryError } from "../../src/core/errors.ts";
import { planRun } from "../../src/engine/run-plan.ts";
import type { CliContext, Command, CommandResult } from "../cli/context.ts";
import { parseFlags, positiveIntFlag, requiredFlag } from "../cli/flags.ts";
import { controlPlaneClientFor } from "../control-plane/client.ts";
import { envelopeResult, readDirectRunArgs, tokenEcho } from "../direct-run/cli.ts";
import { DIRECT_WORLD, runAtEndpoint } from "../direct-run/run.ts";
import { SANDBOX_HEALTH, waitUrlHealthy } from "../modalctl/health.ts";
import { MODAL_PLATFORM, sandboxAddress, sandboxSpec, secretValues } from "../modalctl/plan.ts";
import { loadToolRegistry } from "../tool-registry/load.ts";

const USAGE = `usage: theory modalctl <subcommand> --ref R [--json]
  start  --ref R [--oci IMAGE@sha256:…] [--lifetime S]
         start the ref's named Modal sandbox by digest (the amd64 pin, or --oci), wait until it is
         healthy, and register its tunnel URL with the control plane (PUT /v1/endpoints/{ref})
  stop   --ref R                       terminate the sandbox and deregister the endpoint
  status --ref R                       the sandbox on Modal and the control plane's registration
  run    --ref R --mode mock|real (--inputs-json JSON | --inputs-file PATH | --inputs -)
         [--run-id ID] [--write-prefix /artifacts/…] [--expected-oci IMAGE@sha256:…] [--timeout S]
         run on the started sandbox directly; prints the canonical envelope
  sync-secrets --ref R                 push the registry's secrets for R from the environment to Modal
Modal credentials: MODAL_TOKEN_ID, MODAL_TOKEN_SECRET (MODAL_ENVIRONMENT optional).
`;

/** The gateway is loaded only when a subcommand talks to Modal (the SDK is large). */
async function gatewayFor(context: CliContext) {
  const { ModalGateway } = await import("../modalctl/gateway.ts");
  return new ModalGateway({ env: context.env, log: context.log });
}

async function start(args: string[], context: CliContext): Promise<CommandResult> {
  const { values } = parseFlags(args, {
    ref: { type: "string" },
    oci: { type: "string" },
    lifetime: { type: "string" },
  });
  const ref = requiredFlag(values.ref, "--ref");
  const spec = sandboxSpec(await loadToolRegistry(context.config.registry), {
    ref,
    oci: values.oci,
    lifetimeS: positiveIntFlag(values.lifetime, "--lifetime", 86_400),
  });
  // Fail before starting anything when the registration could not be made.
  const endpoints = controlPlaneClientFor(context);
  const gateway = await gatewayFor(context);
  const progress = (line: string) => {
    if (context.stderrIsTTY) process.stderr.write(`modalctl: ${line}\n`);
  };
  progress(`starting ${spec.name} in app ${spec.app} from ${spec.image}`);
  const started = await gateway.startSandbox(spec);
  try {
    progress(`waiting for ${started.url}/healthz`);
    await waitUrlHealthy(started.url, SANDBOX_HEALTH, context.signal);
    context.log.info("adapter.health.ok", { ref, sandbox_id: started.sandbox_id });
    await endpoints.putEndpoint(ref, { url: started.url, image_digest: spec.digest });
    context.log.info("endpoint.registered", { ref });
  } catch (error) {
    // Leave nothing running that is not registered.
    await gateway.terminateSandbox(spec.app, spec.name).catch(() => undefined);
    throw error;
  }
  return {
    value: {
      ref,
      app: spec.app,
      sandbox: spec.name,
      sandbox_id: started.sandbox_id,
      url: started.url,
      image_digest: spec.digest,
      registered: true,
    },
  };
}

async function stop(args: string[], context: CliContext): Promise<CommandResult> {
  const ref = requiredFlag(parseFlags(args, { ref: { type: "string" } }).values.ref, "--ref");
  const spec = sandboxAddress(await loadToolRegistry(context.config.registry), ref);
  const endpoints = controlPlaneClientFor(context);
  const terminated = await (await gatewayFor(context)).terminateSandbox(spec.app, spec.name);
  const deregistered = await endpoints.deleteEndpoint(ref);
  if (!terminated && !deregistered)
    throw new TheoryError("ERR_NOT_FOUND", `${ref} has no sandbox on Modal and no registered endpoint`);
  return {
    value: { ref, terminated: terminated !== null, sandbox_id: terminated?.sandbox_id ?? null, deregistered },
  };
}

async function status(args: string[], context: CliContext): Promise<CommandResult> {
  const ref = requiredFlag(parseFlags(args, { ref: { type: "string" } }).values.ref, "--ref");
  const spec = sandboxAddress(await loadToolRegistry(context.config.registry), ref);
  const sandbox = await (await gatewayFor(context)).sandboxStatus(spec.app, spec.name, spec.port);
  const registration = context.config.controlPlane
    ? await controlPlaneClientFor(context).getEndpoint(ref)
    : undefined;
  return {
    value: {
      ref,
      modal: {
        app: spec.app,
        sandbox: spec.name,
        found: sandbox !== null,
        ...(sandbox ?? { running: false }),
      },
      control_plane:
        registration === undefined
          ? { configured: false }
          : { configured: true, registered: registration !== null, ...(registration ?? {}) },
      // The control plane dials the URL the running sandbox has now.
      consistent: sandbox?.running === true && registration?.url === sandbox.url,
    },
  };
}

async function run(args: string[], context: CliContext): Promise<CommandResult> {
  const request = await readDirectRunArgs(args, context);
  const registry = await loadToolRegistry(context.config.registry);
  const spec = sandboxAddress(registry, request.ref);
  const plan = await planRun(
    { ...request, target: "modal", artifact_scope: "local" },
    { toolRegistry: registry, worldId: DIRECT_WORLD, platform: MODAL_PLATFORM },
  );
  const gateway = await gatewayFor(context);
  const echo = tokenEcho(context);
  const result = await runAtEndpoint(plan, {
    // The URL Modal reports for the running sandbox now; none -> ERR_ENDPOINT_MISSING.
    resolve: async () => {
      const sandbox = await gateway.sandboxStatus(spec.app, spec.name, spec.port);
      return sandbox?.running && sandbox.url ? { url: sandbox.url } : null;
    },
    log: context.log.child({ target: "modal", ref: request.ref, execution_id: request.run_id }),
    signal: context.signal,
    onFrame: echo.onFrame,
  });
  echo.done();
  return envelopeResult(result);
}

async function syncSecrets(args: string[], context: CliContext): Promise<CommandResult> {
  const ref = requiredFlag(parseFlags(args, { ref: { type: "string" } }).values.ref, "--ref");
  const secret = secretValues(await loadToolRegistry(context.config.registry), ref, context.env);
  if (!secret) return { value: { ref, secret: null, keys: [] } };
  const synced = await (await gatewayFor(context)).syncSecret(secret.name, secret.values);
  // Names only: values never leave this process except to Modal.
  return {
    value: { ref, secret: secret.name, secret_id: synced.secret_id, keys: Object.keys(secret.values).sort() },
  };
}

const SUBCOMMANDS: Record<string, (args: string[], context: CliContext) => Promise<CommandResult>> = {
  start,
  stop,
  status,
  run,
  "sync-secrets": syncSecrets,
};

export const command: Command = {
  summary: "start|stop|status|run|sync-secrets a tool's sandbox on Modal, registered with the control plane",
  async run(args, context) {
    const [name, ...rest] = args;
    if (name === "--help" || name === "-h" || rest.includes("--help") || rest.includes("-h"))
      return { raw: USAGE };
    if (name === undefined)
      throw new TheoryError(
        "ERR_INPUTS",
        "give a subcommand: start|stop|status|run|sync-secrets (see --help)",
      );
    const subcommand = SUBCOMMANDS[name];
    if (!subcommand)
      throw new TheoryError("ERR_INPUTS", `unknown modalctl subcommand ${JSON.stringify(name)}`);
    return subcommand(rest, context);
  },
};
