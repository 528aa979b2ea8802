import type { OpenAPIHono } from "@hono/zod-openapi";
import { endpointResource } from "../../contract/api.ts";
import { RefSchema } from "../../contract/ref.ts";
import {
  deleteEndpointRoute,
  getEndpointRoute,
  listEndpointsRoute,
  putEndpointRoute,
} from "../../contract/routes.ts";
import { TheoryError } from "../../core/errors.ts";
import { lookupTool } from "../../core/tool-registry.ts";
import { checkOutboundUrl } from "../../core/url-policy.ts";
import { forgetEndpoint } from "../endpoint-lookup.ts";
import { endpointDirectory } from "../objects.ts";
import type { Runtime } from "../runtime.ts";
import type { AppEnv } from "./context.ts";
import { mount } from "./mount.ts";

/** `/v1/endpoints/{namespace}/{name@version}` -> a ref the tool registry knows (else ERR_NOT_FOUND). */
function refParam(runtime: Runtime, params: { namespace: string; name: string }): string {
  const ref = `${params.namespace}/${params.name}`;
  if (!RefSchema.safeParse(ref).success) throw new TheoryError("ERR_NOT_FOUND", `not a ref: ${ref}`);
  try {
    lookupTool(runtime.toolRegistry, ref);
  } catch {
    throw new TheoryError("ERR_NOT_FOUND", `unknown ref ${ref}`);
  }
  return ref;
}

/** The control plane dials only registered endpoints (no user-supplied URLs at run time). */
function endpointUrl(raw: string, allowLoopback: boolean): string {
  const url = checkOutboundUrl(raw, { allowLoopback, allowQuery: false, what: "endpoint URL" });
  return url.origin + url.pathname.replace(/\/+$/, "");
}

/** `/v1/endpoints/{ref}` (docs/api.md#endpoints): where a ref's processor is reachable for target modal. */
export function mountEndpoints(app: OpenAPIHono<AppEnv>): void {
  /** One directory object per ref: the registry's refs say which to ask. */
  mount(app, listEndpointsRoute, async (c) => {
    const refs = Object.keys(c.var.runtime.toolRegistry.tools).sort();
    const found = await Promise.all(refs.map((ref) => endpointDirectory(c.env, ref).get()));
    // As each registration's own GET shows it: never its token.
    const endpoints = refs.flatMap((ref, i) => {
      const registration = found[i];
      return registration ? [endpointResource(ref, registration)] : [];
    });
    return c.json({ endpoints });
  });
  mount(app, putEndpointRoute, async (c) => {
    const ref = refParam(c.var.runtime, c.req.valid("param"));
    const body = c.req.valid("json");
    const { config } = c.var.runtime;
    // Fail closed: a web endpoint behind proxy auth would be registered but never reachable.
    if (body.proxy_auth && !config.modalProxy)
      throw new TheoryError(
        "ERR_INPUTS",
        "proxy_auth: this control plane has no Modal proxy auth (MODAL_PROXY_KEY, MODAL_PROXY_SECRET)",
        { status: 422 },
      );
    const registration = { ...body, url: endpointUrl(body.url, config.allowLoopbackEndpoints) };
    await endpointDirectory(c.env, ref).put(registration);
    forgetEndpoint(ref);
    c.var.runtime.log.info("endpoint.registered", { ref, proxy_auth: body.proxy_auth === true });
    return c.json(endpointResource(ref, registration));
  });
  mount(app, getEndpointRoute, async (c) => {
    const ref = refParam(c.var.runtime, c.req.valid("param"));
    const registration = await endpointDirectory(c.env, ref).get();
    if (!registration) throw new TheoryError("ERR_NOT_FOUND", `no endpoint registered for ${ref}`);
    return c.json(endpointResource(ref, registration));
  });
  mount(app, deleteEndpointRoute, async (c) => {
    const ref = refParam(c.var.runtime, c.req.valid("param"));
    forgetEndpoint(ref);
    if (!(await endpointDirectory(c.env, ref).remove()))
      throw new TheoryError("ERR_NOT_FOUND", `no endpoint registered for ${ref}`);
    c.var.runtime.log.info("endpoint.deregistered", { ref });
    return c.body(null, 204);
  });
}
