import type { OpenAPIHono, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import { zValidator } from "@hono/zod-validator";
import type { z } from "zod";
import { SPANNING_PARAMS, scopeOf } from "../../contract/routes.ts";
import type { AppEnv } from "./context.ts";
import { validationHook } from "./errors.ts";
import { jsonBody, requireScope } from "./middleware.ts";

/** What a mounted route's handler gets: the route's validated params, query, headers and body. */
export type RouteContext<R extends RouteConfig> = Parameters<RouteHandler<R, AppEnv>>[0];

/** `{path}` of an output may hold slashes: Hono's `:path{.+}`, which `openapi()` makes of `{path{.+}}`. */
const routingPath = (path: string) =>
  path.replace(/\{(\w+)\}/g, (whole, name: string) =>
    SPANNING_PARAMS.includes(name) ? `{${name}{.+}}` : whole,
  );

const isZod = (schema: unknown): schema is z.ZodType =>
  typeof (schema as { safeParse?: unknown } | undefined)?.safeParse === "function";

/**
 * Mounts one route of src/contract/routes.ts: the bearer scope it declares, then (for a JSON body)
 * our content type, size and syntax checks and the body's schema, then its params, query and
 * headers, each schema through the one validation hook, then the handler. The body is validated
 * here rather than by `openapi()`, whose own media-type gate would answer before ours. The document
 * is generated from the same routes (src/contract/openapi.ts), so the app's registry stays empty.
 */
export function mount<R extends RouteConfig>(
  app: OpenAPIHono<AppEnv>,
  route: R,
  handler: (c: RouteContext<R>) => Response | Promise<Response>,
): void {
  const scope = scopeOf(route);
  const { body, ...request } = route.request ?? {};
  const schema = (body?.content["application/json"] as { schema?: unknown } | undefined)?.schema;
  const middleware = [
    ...(scope ? [requireScope(scope)] : []),
    ...(body ? [jsonBody] : []),
    ...(isZod(schema) ? [zValidator("json", schema, validationHook)] : []),
  ];
  app.openapi({ ...route, request, path: routingPath(route.path), middleware, hide: true }, handler as never);
}
