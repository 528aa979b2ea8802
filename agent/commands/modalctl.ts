import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { TheoryError } from "../../src/core/errors.ts";
import { waitStartedHealthy } from "../../src/core/health.ts";
import { newProcessorToken, PROCESSOR_TOKEN_ENV } from "../../src/core/processor-auth.ts";
import { planRun } from "../../src/engine/run-plan.ts";
import { type CommandInput, defineCommand, type OptionSpecs, positiveIntFlag } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { INPUT_FLAGS } from "../cli/inputs.ts";
import { controlPlaneClientFor } from "../control-plane/client.ts";
import { DIRECT_RUN_OPTIONS, envelopeResult, readDirectRunArgs, tokenEcho } from "../direct-run/cli.ts";
import { DIRECT_WORLD, runAtEndpoint } from "../direct-run/run.ts";
import { deployFileName, renderModalApp } from "../modalctl/deploy-file.ts";
import {
  DEFAULT_LIFETIME_S,
  MODAL_PLATFORM,
  SANDBOX_HEALTH,
  sandboxAddress,
  sandboxSpec,
  secretValues,
  tokenSecretNameFor,
  webSpec,
} from "../modalctl/plan.ts";
import { ensureWebToken, readModalToken, storeModalToken } from "../modalctl/tokens.ts";
import { resolveWeb, startWeb, stopWeb, webStatus } from "../modalctl/web.ts";
import { loadToolRegistry } from "../tool-registry/load.ts";

const REF = {
  ref: {
    type: "string",
    placeholder: "R",
    description: "the tool's ref, e.g. llm/litellm@1",
    required: true,
  },
} as const satisfies OptionSpecs;

const WEB = {
  web: {
    type: "boolean",
    description:
      "the ref's deployed web endpoint (modal deploy of the deploy-file app) instead of its sandbox",
  },
} as const satisfies OptionSpecs;
const REF_OR_WEB = { ...REF, ...WEB } as const satisfies OptionSpecs;

const progressFor = (context: CliContext) => (line: string) => {
  if (context.stderrIsTTY) process.stderr.write(`modalctl: ${line}\n`);
};

/** The gateway is loaded only when a subcommand talks to Modal (the SDK is large). */
async function gatewayFor(context: CliContext) {
  const { ModalGateway } = await import("../modalctl/gateway.ts");
  return new ModalGateway({ env: context.env, log: context.log });
}

const START_OPTIONS = {
  ...REF_OR_WEB,
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
  const registry = await loadToolRegistry(context.config.registry);
  if (values.web) {
    if (values.oci !== undefined || values.lifetime !== undefined)
      throw new TheoryError(
        "ERR_INPUTS",
        "--oci and --lifetime are for sandboxes: a web endpoint is deployed",
      );
    const endpoints = controlPlaneClientFor(context);
    const gateway = await gatewayFor(context);
    const progress = progressFor(context);
    return { value: await startWeb(registry, ref, { context, gateway, endpoints, progress }) };
  }
  // The sandbox's tunnel URL is public: its /run admits only this token (docs/contract.md#processor-auth).
  const processorToken = newProcessorToken();
  const spec = sandboxSpec(registry, {
    ref,
    oci: values.oci,
    lifetimeS: positiveIntFlag(values.lifetime, "--lifetime", 86_400),
    processorToken,
  });
  // Fail before starting anything when the registration could not be made.
  const endpoints = controlPlaneClientFor(context);
  const gateway = await gatewayFor(context);
  const progress = progressFor(context);
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

async function stop(
  { values }: CommandInput<typeof REF_OR_WEB>,
  context: CliContext,
): Promise<CommandResult> {
  const ref = values.ref;
  const spec = sandboxAddress(await loadToolRegistry(context.config.registry), ref);
  const endpoints = controlPlaneClientFor(context);
  if (values.web) return { value: await stopWeb(ref, endpoints) };
  const terminated = await (await gatewayFor(context)).terminateSandbox(spec.app, spec.name);
  // A web endpoint's registration is `stop --web`'s to remove, not a sandbox's stop.
  const registration = await endpoints.getEndpoint(ref);
  const deregistered =
    registration !== null && !registration.proxy_auth && (await endpoints.deleteEndpoint(ref));
  if (!terminated && !deregistered)
    throw new TheoryError("ERR_NOT_FOUND", `${ref} has no sandbox on Modal and no registered endpoint`);
  return {
    value: { ref, terminated: terminated !== null, sandbox_id: terminated?.sandbox_id ?? null, deregistered },
  };
}

async function status(
  { values }: CommandInput<typeof REF_OR_WEB>,
  context: CliContext,
): Promise<CommandResult> {
  const ref = values.ref;
  const registry = await loadToolRegistry(context.config.registry);
  const spec = sandboxAddress(registry, ref);
  const gateway = await gatewayFor(context);
  const registration = context.config.controlPlane
    ? await controlPlaneClientFor(context).getEndpoint(ref)
    : undefined;
  if (values.web) return { value: await webStatus(registry, ref, gateway, registration) };
  const sandbox = await gateway.sandboxStatus(spec.app, spec.name, spec.port);
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

const RUN_OPTIONS = { ...DIRECT_RUN_OPTIONS, ...WEB } as const satisfies OptionSpecs;

async function run(
  { values }: CommandInput<typeof RUN_OPTIONS>,
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
    // The URL Modal reports now (the running sandbox's, or the deployed function's); none -> ERR_ENDPOINT_MISSING.
    resolve: async () => {
      if (values.web) return resolveWeb(registry, request.ref, { context, gateway });
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
  const registry = await loadToolRegistry(context.config.registry);
  const secret = secretValues(registry, ref, context.env);
  const gateway = await gatewayFor(context);
  const synced = secret ? await gateway.syncSecret(secret.name, secret.values) : undefined;
  // The web endpoint's token: made once and kept here (modalctl run sends it), the same value each sync.
  const tokenSecret = tokenSecretNameFor(webSpec(registry, ref).app);
  const token = await ensureWebToken(context.config.home, ref);
  const tokenSynced = await gateway.syncSecret(tokenSecret, { [PROCESSOR_TOKEN_ENV]: token });
  // Names only: values never leave this process except to Modal.
  return {
    value: {
      ref,
      secret: secret?.name ?? null,
      ...(synced ? { secret_id: synced.secret_id } : {}),
      keys: Object.keys(secret?.values ?? {}).sort(),
      token_secret: tokenSecret,
      token_secret_id: tokenSynced.secret_id,
    },
  };
}

const DEPLOY_FILE_OPTIONS = {
  ...REF,
  out: {
    type: "string",
    placeholder: "FILE",
    description: "where to write the app (default ./{modal.app with _ for -}.py)",
  },
} as const satisfies OptionSpecs;

async function deployFile(
  { values }: CommandInput<typeof DEPLOY_FILE_OPTIONS>,
  context: CliContext,
): Promise<CommandResult> {
  const spec = webSpec(await loadToolRegistry(context.config.registry), values.ref);
  const text = renderModalApp(spec);
  const path = resolve(values.out ?? deployFileName(spec.app));
  await writeFile(path, text);
  return {
    value: {
      ref: spec.ref,
      path,
      app: spec.app,
      function: spec.function,
      image: spec.image,
      sha256: createHash("sha256").update(text).digest("hex"),
      deploy: `modal deploy ${path}`,
    },
  };
}

export const command = defineCommand({
  name: "modalctl",
  summary:
    "a tool on Modal, registered with the control plane: a sandbox (start|stop|status|run), or the web " +
    "endpoint of a deployed app (deploy-file, then the same commands with --web); sync-secrets",
  notes:
    "Modal credentials: MODAL_TOKEN_ID, MODAL_TOKEN_SECRET (MODAL_ENVIRONMENT optional). The control plane " +
    "(start, stop, status): --control-plane URL or THEORY_CONTROL_PLANE, token THEORY_TOKEN. A web endpoint " +
    "requires Modal proxy auth: MODAL_PROXY_KEY, MODAL_PROXY_SECRET (and the control plane configured with them).",
  subcommands: [
    defineCommand({
      name: "start",
      summary:
        "start the ref's named Modal sandbox by digest (the amd64 pin, or --oci), wait until it is healthy, " +
        "and register its tunnel URL with the control plane (PUT /v1/endpoints/{ref}); with --web, look the " +
        "deployed function up instead, wait until it is healthy and register its web URL",
      options: START_OPTIONS,
      run: start,
    }),
    defineCommand({
      name: "stop",
      summary:
        "terminate the sandbox and deregister it; with --web, deregister the web endpoint (the deployment stays)",
      options: REF_OR_WEB,
      run: stop,
    }),
    defineCommand({
      name: "status",
      summary:
        "the sandbox (or with --web the deployed function) on Modal and the control plane's registration " +
        "(when a control plane is configured)",
      options: REF_OR_WEB,
      run: status,
    }),
    defineCommand({
      name: "run",
      summary:
        "run on the started sandbox (or with --web the deployed web endpoint) directly; prints the canonical " +
        "envelope (exit status: its error code's)",
      options: RUN_OPTIONS,
      oneOf: INPUT_FLAGS,
      run,
    }),
    defineCommand({
      name: "sync-secrets",
      summary:
        "push the registry's secrets for the ref from the environment to Modal, and the web endpoint's " +
        "processor token (made once, kept in THEORY_HOME) to the secret {modal.app}-processor-token",
      options: REF,
      run: syncSecrets,
    }),
    defineCommand({
      name: "deploy-file",
      summary:
        "write the ref's Modal app (Python) for `modal deploy`: the pinned amd64 image, the registry's " +
        "resources and secrets, a web server on the tool's port behind proxy auth",
      options: DEPLOY_FILE_OPTIONS,
      run: deployFile,
    }),
  ],
});
