import type { ControlPlaneClient } from "../../src/client/control-plane.ts";
import type { Endpoint } from "../../src/contract/api.ts";
import type { ToolRegistry } from "../../src/contract/tool-registry.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { probeHealth, waitStartedHealthy } from "../../src/core/health.ts";
import { modalProxyHeaders } from "../../src/core/processor-auth.ts";
import type { ResolvedEndpoint } from "../../src/engine/endpoint-transport.ts";
import type { CliContext } from "../cli/context.ts";
import { deployFileName } from "./deploy-file.ts";
import type { ModalGateway } from "./gateway.ts";
import { SANDBOX_HEALTH, webAddress, webSpec } from "./plan.ts";
import { readModalToken } from "./tokens.ts";

/**
 * A ref's Modal web endpoint: the function the user deployed (`modal deploy` of the app
 * `deploy-file` wrote), looked up by name, reached through its web URL with Modal proxy auth, and
 * registered with the control plane as needing it. The deployment itself stays the user's.
 */

const deployHint = (registry: ToolRegistry, ref: string) =>
  `theory modalctl deploy-file --ref ${ref}, then modal deploy ${deployFileName(webAddress(registry, ref).app)}`;

/** Modal-Key/Modal-Secret from MODAL_PROXY_KEY/MODAL_PROXY_SECRET: a web endpoint answers nothing without them. */
export function proxyHeadersFrom(env: NodeJS.ProcessEnv): Record<string, string> {
  const { MODAL_PROXY_KEY: key, MODAL_PROXY_SECRET: secret } = env;
  if (!key || !secret)
    throw new TheoryError(
      "ERR_AUTH",
      "a Modal web endpoint requires proxy auth: set MODAL_PROXY_KEY and MODAL_PROXY_SECRET to a proxy auth token of the workspace",
    );
  return modalProxyHeaders({ key, secret });
}

/** The token the deployment reads from its Modal secret, as `sync-secrets` kept it here. */
async function webToken(context: CliContext, ref: string): Promise<string> {
  const token = await readModalToken(context.config.home, ref, "web");
  if (!token)
    throw new TheoryError(
      "ERR_MISSING_SECRET",
      `no processor token for ${ref}'s web endpoint in ${context.config.home}: theory modalctl sync-secrets --ref ${ref}, then deploy again`,
    );
  return token;
}

/** The deployed function's web URL; not deployed -> ERR_ENDPOINT_MISSING with how to deploy it. */
async function deployedUrl(gateway: ModalGateway, registry: ToolRegistry, ref: string) {
  const address = webAddress(registry, ref);
  const deployed = await gateway.webFunction(address.app, address.function);
  if (!deployed)
    throw new TheoryError(
      "ERR_ENDPOINT_MISSING",
      `${address.app}/${address.function} is not deployed on Modal: ${deployHint(registry, ref)}`,
    );
  return { ...address, ...deployed };
}

/**
 * `start --web`: the deployed function's URL from Modal, healthy through the proxy with these
 * credentials (refused: ERR_AUTH at once), registered with its token and `proxy_auth: true`.
 */
export async function startWeb(
  registry: ToolRegistry,
  ref: string,
  deps: {
    context: CliContext;
    gateway: ModalGateway;
    endpoints: ControlPlaneClient;
    progress(line: string): void;
  },
) {
  const { context } = deps;
  const spec = webSpec(registry, ref);
  const headers = proxyHeadersFrom(context.env);
  const deployed = await deployedUrl(deps.gateway, registry, ref);
  const token = await webToken(context, ref);
  deps.progress(`waiting for ${deployed.url}/healthz`);
  const first = await probeHealth(deployed.url, { headers });
  if (first.state === "unhealthy" && (first.status === 401 || first.status === 403))
    throw new TheoryError(
      "ERR_AUTH",
      `Modal's proxy refused MODAL_PROXY_KEY/MODAL_PROXY_SECRET (HTTP ${first.status}) for ${deployed.url}`,
    );
  if (first.state !== "healthy")
    await waitStartedHealthy(deployed.url, "the web endpoint", {
      policy: SANDBOX_HEALTH,
      headers,
      signal: context.signal,
    });
  context.log.info("adapter.health.ok", { ref, function_id: deployed.function_id });
  await deps.endpoints.putEndpoint(ref, {
    url: deployed.url,
    image_digest: spec.digest,
    processor_token: token,
    proxy_auth: true,
  });
  context.log.info("endpoint.registered", { ref, proxy_auth: true });
  return {
    ref,
    app: deployed.app,
    function: deployed.function,
    function_id: deployed.function_id,
    url: deployed.url,
    image_digest: spec.digest,
    registered: true,
  };
}

/** `status --web`: the deployment on Modal and the control plane's registration, and whether they agree. */
export async function webStatus(
  registry: ToolRegistry,
  ref: string,
  gateway: ModalGateway,
  registration: Endpoint | null | undefined,
) {
  const address = webAddress(registry, ref);
  const deployed = await gateway.webFunction(address.app, address.function);
  return {
    ref,
    modal: { app: address.app, function: address.function, found: deployed !== null, ...(deployed ?? {}) },
    control_plane:
      registration === undefined
        ? { configured: false }
        : { configured: true, registered: registration !== null, ...(registration ?? {}) },
    consistent: deployed !== null && registration?.url === deployed.url && registration.proxy_auth === true,
  };
}

/** `stop --web`: deregisters the web endpoint; the deployment is the user's to stop (`modal app stop`). */
export async function stopWeb(ref: string, endpoints: ControlPlaneClient) {
  const registration = await endpoints.getEndpoint(ref);
  if (!registration?.proxy_auth)
    throw new TheoryError("ERR_NOT_FOUND", `${ref} has no web endpoint registered with the control plane`);
  const deregistered = await endpoints.deleteEndpoint(ref);
  return { ref, deregistered, deployment: "kept" };
}

/** `run --web`: the deployed function's URL now, its token and the proxy auth; null when not deployed. */
export async function resolveWeb(
  registry: ToolRegistry,
  ref: string,
  deps: { context: CliContext; gateway: ModalGateway },
): Promise<ResolvedEndpoint | null> {
  const address = webAddress(registry, ref);
  const deployed = await deps.gateway.webFunction(address.app, address.function);
  if (!deployed) return null;
  return {
    url: deployed.url,
    token: await webToken(deps.context, ref),
    headers: proxyHeadersFrom(deps.context.env),
  };
}
