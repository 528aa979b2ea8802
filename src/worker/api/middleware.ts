import type { MiddlewareHandler } from "hono";
import type { Scope } from "../../contract/api.ts";
import { hexToBytes, sha256Hex } from "../../core/canonical.ts";
import { TheoryError } from "../../core/errors.ts";
import { MAX_JSON_BYTES, parseJson } from "../../core/json.ts";
import { runtimeFor } from "../runtime.ts";
import type { AppEnv } from "./context.ts";

/** Resolves config, logger, tool registry and storage once per bindings object. */
export const withRuntime: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set("runtime", runtimeFor(c.env));
  await next();
};

/**
 * Bearer auth: the token's SHA-256 is compared with every stored hash in constant time (no early
 * exit), then the scope is checked. Missing or unknown token -> 401, missing scope -> 403.
 */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("Authorization") ?? "";
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) throw new TheoryError("ERR_AUTH", "a bearer token is required");
    const presented = hexToBytes(await sha256Hex(token));
    let grant: (typeof c.var.runtime.config.tokens)[number] | undefined;
    for (const candidate of c.var.runtime.config.tokens) {
      if (crypto.subtle.timingSafeEqual(presented, hexToBytes(candidate.sha256)) && !grant) grant = candidate;
    }
    if (!grant) throw new TheoryError("ERR_AUTH", "the bearer token is not valid");
    if (!grant.scopes.includes(scope))
      throw new TheoryError("ERR_AUTH", `the token lacks the ${scope} scope`, { status: 403 });
    c.set("grant", grant);
    await next();
  };
}

/**
 * A JSON body: 415 for another content type, 413 past 1 MiB, 400 when malformed or past the
 * contract's JSON limits (docs/api.md#errors), checked before any handler reads it.
 */
export const jsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    throw new TheoryError("ERR_INPUTS", "content-type must be application/json", { status: 415 });
  const declared = Number(c.req.header("Content-Length") ?? "0");
  if (declared > MAX_JSON_BYTES) throw new TheoryError("ERR_INPUTS", "body over 1 MiB", { status: 413 });
  parseJson(await c.req.text(), "body");
  await next();
};
