import type { EndpointRegistration } from "../contract/api.ts";
import { TheoryError } from "../core/errors.ts";
import { modalProxyHeaders } from "../core/processor-auth.ts";
import type { ResolvedEndpoint } from "../engine/endpoint-transport.ts";
import type { ControlPlaneConfig } from "./config.ts";
import { endpointDirectory } from "./objects.ts";

/**
 * How long a looked-up registration is trusted in this isolate. A PUT or DELETE handled here
 * forgets it at once; elsewhere a change is seen within this time.
 */
export const ENDPOINT_CACHE_MS = 2000;

const cache = new Map<string, { registration: EndpointRegistration | null; until: number }>();

/** The ref's registration (or null), from this isolate's short cache or its directory object. */
export async function lookupEndpoint(env: Env, ref: string): Promise<EndpointRegistration | null> {
  const cached = cache.get(ref);
  if (cached && cached.until > Date.now()) return cached.registration;
  const registration = await endpointDirectory(env, ref).get();
  cache.set(ref, { registration, until: Date.now() + ENDPOINT_CACHE_MS });
  return registration;
}

/** After a PUT or DELETE of `ref`: the next lookup asks the directory. */
export function forgetEndpoint(ref: string): void {
  cache.delete(ref);
}

/**
 * What the endpoint transport dials for a ref on target "modal": the registered URL and digest, the
 * processor's token, and Modal-Key/Modal-Secret only for an endpoint registered behind proxy auth. One whose
 * proxy auth this control plane cannot give (its secrets removed since) fails closed: ERR_AUTH.
 */
export async function resolveEndpoint(
  env: Env,
  config: ControlPlaneConfig,
  ref: string,
): Promise<ResolvedEndpoint | null> {
  const registration = await lookupEndpoint(env, ref);
  if (!registration) return null;
  const endpoint = {
    url: registration.url,
    token: registration.processor_token,
    image_digest: registration.image_digest,
  };
  if (!registration.proxy_auth) return endpoint;
  if (!config.modalProxy)
    throw new TheoryError(
      "ERR_AUTH",
      `the endpoint for ${ref} needs Modal proxy auth, which is not configured here (MODAL_PROXY_KEY, MODAL_PROXY_SECRET)`,
    );
  return { ...endpoint, headers: modalProxyHeaders(config.modalProxy) };
}
