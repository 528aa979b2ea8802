import type { EndpointRegistration } from "../contract/api.ts";
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
