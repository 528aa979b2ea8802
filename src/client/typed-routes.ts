// The client's types come from the very route definitions the Worker mounts
// (src/contract/routes.ts): what a call takes is the zod input of the route's params, query and
// JSON body; what it gives back, the zod output of its success responses.
import type { RouteConfig } from "@hono/zod-openapi";
import type { z } from "zod";
import { SPANNING_PARAMS } from "../contract/routes.ts";
import { TheoryError } from "../core/errors.ts";
import { describeIssues } from "../core/validation.ts";

type JsonSchemaOf<C> = C extends { content: { "application/json": { schema: infer S extends z.ZodType } } }
  ? S
  : never;
type RequestPart<R extends RouteConfig, K extends string> = R extends {
  request: { [P in K]: infer S extends z.ZodType };
}
  ? z.input<S>
  : never;
type Given<K extends string, T> = [T] extends [never] ? unknown : { [P in K]: T };

/** What a call of route R takes: its path params, query and JSON body, each only where R has one. */
export type RouteInput<R extends RouteConfig> = Given<"params", RequestPart<R, "params">> &
  Given<"query", RequestPart<R, "query">> &
  Given<"body", z.input<JsonSchemaOf<R["request"] extends { body: infer B } ? B : never>>> & {
    headers?: Record<string, string>;
  };

type SuccessStatus = 200 | 201 | 202 | 204;
/** What a successful call of route R gives back: the parsed JSON of a 2xx it declares (204: nothing). */
export type RouteOutput<R extends RouteConfig> = {
  [S in keyof R["responses"]]: S extends 204
    ? undefined
    : S extends SuccessStatus
      ? z.output<JsonSchemaOf<R["responses"][S]>>
      : never;
}[keyof R["responses"]];

/** A path segment as a URL carries it: `@` and `:` are legal there and stay readable (`litellm@1`). */
const encodeSegment = (segment: string) =>
  encodeURIComponent(segment).replace(/%(40|3A)/gi, (_m, hex) => (hex === "40" ? "@" : ":"));

type LooseInput = { params?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown };

/**
 * The route's path with its params filled in, and its query. Params are checked against the route's
 * own schema first (ERR_INPUTS), so a value can never reach another route; an output's `path` keeps
 * its slashes, every other param is one segment.
 */
export function routePath<R extends RouteConfig>(route: R, input: RouteInput<R>): string {
  const { params = {}, query = {} } = input as LooseInput;
  const paramsSchema = route.request?.params as z.ZodType | undefined;
  if (paramsSchema) {
    const checked = paramsSchema.safeParse(params);
    if (!checked.success) throw new TheoryError("ERR_INPUTS", describeIssues(checked.error));
  }
  const path = route.path.replace(/\{(\w+)\}/g, (_whole, name: string) => {
    const value = String(params[name]);
    return SPANNING_PARAMS.includes(name)
      ? value.split("/").map(encodeSegment).join("/")
      : encodeSegment(value);
  });
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/** The JSON body of input, as sent. */
export function routeBody<R extends RouteConfig>(input: RouteInput<R>): string | undefined {
  const { body } = input as LooseInput;
  return body === undefined ? undefined : JSON.stringify(body);
}

/**
 * A success answer's text, parsed with the schema the route declares for its status; an answer
 * that does not fit is ERR_INTERNAL (the control plane broke its own contract).
 */
export function parseAnswer<R extends RouteConfig>(route: R, status: number, text: string): RouteOutput<R> {
  const response = route.responses[status] as { content?: Record<string, { schema?: unknown }> } | undefined;
  const schema = response?.content?.["application/json"]?.schema as z.ZodType | undefined;
  if (!schema) return undefined as RouteOutput<R>;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new TheoryError(
      "ERR_INTERNAL",
      `the control plane's answer to ${route.operationId ?? route.path} (HTTP ${status}) is invalid`,
    );
  return parsed.data as RouteOutput<R>;
}
