// Signing in: the token is pasted once and kept in this tab's sessionStorage (never in a URL, never
// logged); GET /v1/whoami says what it may do, and the page shows only that.
import { ControlPlaneClient } from "../src/client/control-plane.ts";
import type { Scope, Whoami } from "../src/contract/api.ts";
import { TheoryError } from "../src/core/errors.ts";
import { createLogger } from "../src/core/log.ts";

const TOKEN_KEY = "theory.token";

export interface Session {
  whoami: Whoami;
  can(scope: Scope): boolean;
  /** A client of this origin's API with the session's token; `signal` stops its calls and streams. */
  client(signal?: AbortSignal): ControlPlaneClient;
}

function sessionFor(token: string, whoami: Whoami): Session {
  return {
    whoami,
    can: (scope) => whoami.scopes.includes(scope),
    client: (signal) =>
      new ControlPlaneClient({
        baseUrl: location.origin,
        token,
        ...(signal ? { signal } : {}),
        log: createLogger({ level: "warn", secrets: [token], fields: { target: "dashboard" } }),
      }),
  };
}

/** Checks the token with the control plane; kept for this tab only once it is good. */
export async function signIn(token: string): Promise<Session> {
  const trimmed = token.trim();
  if (!trimmed) throw new TheoryError("ERR_AUTH", "paste a bearer token to sign in");
  const whoami = await sessionFor(trimmed, { name: "-", scopes: [] }).client().whoami();
  sessionStorage.setItem(TOKEN_KEY, trimmed);
  return sessionFor(trimmed, whoami);
}

/** The tab's session, if a token is kept and still good; a refused one is forgotten. */
export async function resumeSession(): Promise<Session | null> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    return await signIn(token);
  } catch (error) {
    if (error instanceof TheoryError && error.code === "ERR_AUTH") signOut();
    throw error;
  }
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
