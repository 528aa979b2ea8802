import type { OpenAPIHono, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import { SPANNING_PARAMS, scopeOf } from "../../contract/routes.ts";
import type { AppEnv } from "./context.ts";
import { jsonBody, requireScope } from "./middleware.ts";

/** What a mounted route's handler gets: the route's validated params, query, headers and body. */
export type RouteContext<R extends RouteConfig> = Parameters<RouteHandler<R, AppEnv>>[0];

/** `{path}` of an output may hold slashes: Hono's `:path{.+}`, which `openapi()` makes of `{path{.+}}`. */
const routingPath = (path: string) =>
  path.replace(/\{(\w+)\}/g, (whole, name: string) =>
    SPANNING_PARAMS.includes(name) ? `{${name}{.+}}` : whole,
  );

/**
 * Mounts one route of src/contract/routes.ts: the bearer scope it declares, then (for a JSON body)
 * the content type, size and syntax, then its schemas through the one validation hook, then the
 * handler. The document is generated from the same routes (src/contract/openapi.ts), so the app's
 * own registry stays empty (`hide`).
 */
export function mount<R extends RouteConfig>(
  app: OpenAPIHono<AppEnv>,
  route: R,
  handler: (c: RouteContext<R>) => Response | Promise<Response>,
): void {
  const scope = scopeOf(route);
  const middleware = [
    ...(scope ? [requireScope(scope)] : []),
    ...(route.request?.body?.content["application/json"] ? [jsonBody] : []),
  ];
  app.openapi({ ...route, path: routingPath(route.path), middleware, hide: true }, handler as never);
}
