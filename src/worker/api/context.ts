import type { TokenGrant } from "../config.ts";
import type { Runtime } from "../runtime.ts";

/** Hono's view of the Worker: its bindings, and what middleware puts on the context. */
export type AppEnv = {
  Bindings: Env;
  Variables: { runtime: Runtime; grant: TokenGrant };
};
