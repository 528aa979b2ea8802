import { TheoryError } from "../../src/core/errors.ts";
import { waitStartedHealthy } from "../../src/core/health.ts";
import { newProcessorToken } from "../../src/core/processor-auth.ts";
import { planRun } from "../../src/engine/run-plan.ts";
import { type CommandInput, defineCommand, type OptionSpecs, positiveIntFlag } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { INPUT_FLAGS } from "../cli/inputs.ts";
import { controlPlaneClientFor } from "../control-plane/client.ts";
import { DIRECT_RUN_OPTIONS, envelopeResult, readDirectRunArgs, tokenEcho } from "../direct-run/cli.ts";
import { DIRECT_WORLD, runAtEndpoint } from "../direct-run/run.ts";
import {
  DEFAULT_LIFETIME_S,
  MODAL_PLATFORM,
  SANDBOX_HEALTH,
  sandboxAddress,
  sandboxSpec,
  secretValues,
} from "../modalctl/plan.ts";
import { readModalToken, storeModalToken } from "../modalctl/tokens.ts";
import { loadToolRegistry } from "../tool-registry/load.ts";

const REF = {
  ref: {
    type: "string",
    placeholder: "R",
    description: "the tool's ref, e.g. llm/litellm@1",
    required: true,
  },
} as const satisfies OptionSpecs;

/** The gateway is loaded only when a subcommand talks to Modal (the SDK is large). */
async function gatewayFor(context: CliContext) {
  const { ModalGateway } = await import("../modalctl/gateway.ts");
  return new ModalGateway({ env: context.env, log: context.log });
}

const START_OPTIONS = {
  ...REF,
  oci: {
    type: "string",
    placeholder: "IMAGE@sha256:…",
    description: "start this image (by digest) instead of the registry's amd64 pin",
  },
  lifetime: {
    type: "string",
    placeholder: "S",
    description: `the sandbox's lifetime in seconds (1-86400; default ${DEFAULT_LIFETIME_S}), at least the tool's timeout_s`,
  },
} as const satisfies OptionSpecs;

async function start(
  { values }: CommandInput<typeof START_OPTIONS>,
  context: CliContext,
): Promise<CommandResult> {
  const ref = values.ref;
  // The sandbox's tunnel URL is public: its /run admits only this token (docs/contract.md#processor-auth).
  const processorToken = newProcessorToken();
  const spec = sandboxSpec(await loadToolRegistry(context.config.registry), {
    ref,
    oci: values.oci,
    lifetimeS: positiveIntFlag(values.lifetime, "--lifetime", 86_400),
    processorToken,
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
    await storeModalToken(context.config.home, ref, "sandbox", processorToken);
    progress(`waiting for ${started.url}/healthz`);
    await waitStartedHealthy(started.url, "the sandbox", { policy: SANDBOX_HEALTH, signal: context.signal });
    context.log.info("adapter.health.ok", { ref, sandbox_id: started.sandbox_id });
    await endpoints.putEndpoint(ref, {
      url: started.url,
      image_digest: spec.digest,
      processor_token: processorToken,
    });
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

async function stop({ values }: CommandInput<typeof REF>, context: CliContext): Promise<CommandResult> {
  const ref = values.ref;
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

async function status({ values }: CommandInput<typeof REF>, context: CliContext): Promise<CommandResult> {
  const ref = values.ref;
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

async function run(
  { values }: CommandInput<typeof DIRECT_RUN_OPTIONS>,
  context: CliContext,
): Promise<CommandResult> {
  const request = await readDirectRunArgs(values, context);
  const registry = await loadToolRegistry(context.config.registry);
  const spec = sandboxAddress(registry, request.ref);
  const plan = await planRun(
    { ...request, target: "modal", artifact_scope: "local" },
    { toolRegistry: registry, worldId: DIRECT_WORLD, platform: MODAL_PLATFORM },
  );
  const gateway = await gatewayFor(context);
  const echo = tokenEcho(context);
  const home = context.config.home;
  const result = await runAtEndpoint(plan, {
    // The URL Modal reports for the running sandbox now; none -> ERR_ENDPOINT_MISSING.
    resolve: async () => {
      const sandbox = await gateway.sandboxStatus(spec.app, spec.name, spec.port);
      if (!sandbox?.running || !sandbox.url) return null;
      const token = await readModalToken(home, request.ref, "sandbox");
      if (!token)
        throw new TheoryError(
          "ERR_MISSING_SECRET",
          `no processor token for ${request.ref}'s sandbox in ${home}: it was started elsewhere (modalctl start here)`,
        );
      return { url: sandbox.url, token };
    },
    log: context.log.child({ target: "modal", ref: request.ref, execution_id: request.run_id }),
    signal: context.signal,
    onFrame: echo.onFrame,
  });
  echo.done();
  return envelopeResult(result);
}

async function syncSecrets(
  { values }: CommandInput<typeof REF>,
  context: CliContext,
): Promise<CommandResult> {
  const ref = values.ref;
  const secret = secretValues(await loadToolRegistry(context.config.registry), ref, context.env);
  if (!secret) return { value: { ref, secret: null, keys: [] } };
  const synced = await (await gatewayFor(context)).syncSecret(secret.name, secret.values);
  // Names only: values never leave this process except to Modal.
  return {
    value: { ref, secret: secret.name, secret_id: synced.secret_id, keys: Object.keys(secret.values).sort() },
  };
}

export const command = defineCommand({
  name: "modalctl",
  summary: "start|stop|status|run|sync-secrets a tool's sandbox on Modal, registered with the control plane",
  notes:
    "Modal credentials: MODAL_TOKEN_ID, MODAL_TOKEN_SECRET (MODAL_ENVIRONMENT optional). The control plane " +
    "(start, stop, status): --control-plane URL or THEORY_CONTROL_PLANE, token THEORY_TOKEN.",
  subcommands: [
    defineCommand({
      name: "start",
      summary:
        "start the ref's named Modal sandbox by digest (the amd64 pin, or --oci), wait until it is healthy, " +
        "and register its tunnel URL with the control plane (PUT /v1/endpoints/{ref})",
      options: START_OPTIONS,
      run: start,
    }),
    defineCommand({
      name: "stop",
      summary: "terminate the sandbox and deregister the endpoint",
      options: REF,
      run: stop,
    }),
    defineCommand({
      name: "status",
      summary:
        "the sandbox on Modal and the control plane's registration (when a control plane is configured)",
      options: REF,
      run: status,
    }),
    defineCommand({
      name: "run",
      summary:
        "run on the started sandbox directly; prints the canonical envelope (exit status: its error code's)",
      options: DIRECT_RUN_OPTIONS,
      oneOf: INPUT_FLAGS,
      run,
    }),
    defineCommand({
      name: "sync-secrets",
      summary: "push the registry's secrets for the ref from the environment to Modal",
      options: REF,
      run: syncSecrets,
    }),
  ],
});
