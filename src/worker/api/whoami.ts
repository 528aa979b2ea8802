import type { OpenAPIHono } from "@hono/zod-openapi";
import { whoamiRoute } from "../../contract/routes.ts";
import type { AppEnv } from "./context.ts";
import { mount } from "./mount.ts";

/** `/v1/whoami` (docs/api.md#routes): what the presented token may do, for a client to decide what to show. */
export function mountWhoami(app: OpenAPIHono<AppEnv>): void {
  mount(app, whoamiRoute, (c) => {
    // Field by field: the grant also holds the token's hash, which never leaves the control plane.
    const { name, scopes, agent } = c.var.grant;
    return c.json({ name, scopes: [...scopes], ...(agent ? { agent } : {}) });
  });
}
