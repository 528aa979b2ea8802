import { refSlug } from "../../src/contract/ref.ts";
import type { ToolRegistry } from "../../src/contract/tool-registry.ts";
import type { BackoffPolicy } from "../../src/core/backoff.ts";
import { PROCESSOR_TOKEN_ENV } from "../../src/core/processor-auth.ts";
import { requireSecrets } from "../../src/core/secrets.ts";
import { envFingerprint, lookupTool, memoryMiB, resolveImage } from "../../src/core/tool-registry.ts";

/** Modal runs amd64 machines: the registry's amd64 pin is the digest a sandbox starts from. */
export const MODAL_PLATFORM = "amd64" as const;
/** How long a started sandbox lives unless `--lifetime` says otherwise (Modal's own default is 5 min). */
export const DEFAULT_LIFETIME_S = 3600;

/** A new sandbox's or web endpoint's cold start (image pull, boot) can take far longer than a local container's. */
export const SANDBOX_HEALTH: BackoffPolicy = {
  initialMs: 100,
  maxMs: 2000,
  factor: 2,
  jitter: 0.2,
  totalMs: 120_000,
};

/** What a ref's processor on Modal is, sandbox or web endpoint alike, from the tool registry alone. */
export interface ModalProcessorSpec {
  ref: string;
  /** The Modal app (registry `modal.app`). */
  app: string;
  /** `repository@sha256:…`: by digest only, never a tag. */
  image: string;
  digest: string;
  port: number;
  cpu: number;
  memoryMiB: number;
  /** The processor's environment: what it serves and what it was started from. */
  env: Record<string, string>;
  /** The ref's named Modal secret, when the tool declares secrets. */
  secret?: string;
}

/** Everything the gateway needs to start one ref's sandbox. */
export interface SandboxSpec extends ModalProcessorSpec {
  /** The sandbox's name inside the app: one per ref. */
  name: string;
  /** The sandbox's lifetime: at least one whole run (the tool registry's timeout_s). */
  timeoutS: number;
}

/** The ref's named Modal secret, holding the tool registry's `secrets` for it (`modalctl sync-secrets`). */
export const secretNameFor = (app: string): string => `${app}-secrets`;

/** The ref's named Modal secret holding its web endpoint's PROCESSOR_TOKEN (`modalctl sync-secrets`). */
export const tokenSecretNameFor = (app: string): string => `${app}-processor-token`;

/** The web endpoint's function when the registry's `modal.function` names none. */
export const DEFAULT_WEB_FUNCTION = "serve";

/** The part of a sandbox's and a web endpoint's spec they share; the env without the token. */
function processorSpec(registry: ToolRegistry, ref: string, oci?: string): ModalProcessorSpec {
  const tool = lookupTool(registry, ref);
  const { image, digest } = resolveImage(registry, ref, MODAL_PLATFORM, oci);
  return {
    ref,
    app: tool.modal.app,
    image,
    digest,
    port: tool.port,
    cpu: tool.resources.cpu,
    memoryMiB: memoryMiB(tool.resources.memory),
    env: {
      IMAGE_DIGEST: digest,
      ENV_FINGERPRINT: envFingerprint(tool.resources),
      TOOL_REF: ref,
      PORT: String(tool.port),
    },
    ...(tool.secrets.length > 0 ? { secret: secretNameFor(tool.modal.app) } : {}),
  };
}

/** Where a ref's sandbox lives on Modal: its app, its name in the app, the port it serves. */
export function sandboxAddress(
  registry: ToolRegistry,
  ref: string,
): { app: string; name: string; port: number } {
  const tool = lookupTool(registry, ref);
  return { app: tool.modal.app, name: refSlug(ref), port: tool.port };
}

/** A sandbox's spec; its env carries the PROCESSOR_TOKEN `modalctl start` generated for it. */
export function sandboxSpec(
  registry: ToolRegistry,
  options: { ref: string; oci?: string; lifetimeS?: number; processorToken: string },
): SandboxSpec {
  const tool = lookupTool(registry, options.ref);
  const shared = processorSpec(registry, options.ref, options.oci);
  return {
    ...shared,
    name: sandboxAddress(registry, options.ref).name,
    timeoutS: Math.max(options.lifetimeS ?? DEFAULT_LIFETIME_S, tool.timeout_s),
    env: { ...shared.env, [PROCESSOR_TOKEN_ENV]: options.processorToken },
  };
}

/** Where a ref's web endpoint lives on Modal: its app, the function serving it, the port it serves. */
export function webAddress(
  registry: ToolRegistry,
  ref: string,
): { app: string; function: string; port: number } {
  const tool = lookupTool(registry, ref);
  return { app: tool.modal.app, function: tool.modal.function ?? DEFAULT_WEB_FUNCTION, port: tool.port };
}

/**
 * Everything the ref's Modal app (`modalctl deploy-file`) says, from its registry entry alone: the
 * amd64 pin; the env without the token, which comes from `tokenSecret`.
 */
export interface WebSpec extends ModalProcessorSpec {
  function: string;
  /** Per request (a run): the registry's timeout_s. */
  timeoutS: number;
  tokenSecret: string;
}

export function webSpec(registry: ToolRegistry, ref: string): WebSpec {
  const tool = lookupTool(registry, ref);
  return {
    ...processorSpec(registry, ref),
    function: webAddress(registry, ref).function,
    timeoutS: tool.timeout_s,
    tokenSecret: tokenSecretNameFor(tool.modal.app),
  };
}

/** The registry's secret names for a ref, valued from the environment; any absent -> ERR_MISSING_SECRET. */
export function secretValues(
  registry: ToolRegistry,
  ref: string,
  env: NodeJS.ProcessEnv,
): { name: string; values: Record<string, string> } | undefined {
  const tool = lookupTool(registry, ref);
  if (tool.secrets.length === 0) return undefined;
  return {
    name: secretNameFor(tool.modal.app),
    values: requireSecrets(tool.secrets, env, `${ref}'s Modal secret is synced from the environment`),
  };
}
