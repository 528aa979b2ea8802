import { DurableObject } from "cloudflare:workers";

/** One per run: the orchestrator's home (state machine, events, persistence). */
export class RunSession extends DurableObject<Env> {}
