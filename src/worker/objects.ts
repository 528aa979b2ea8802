/**
 * How the Worker addresses its Durable Objects: by name only, and only here, so the API routes and
 * the objects themselves agree on what each instance is named.
 */
export const runSession = (env: Env, runId: string) => env.RUN_SESSION.getByName(runId);

export const agentTunnel = (env: Env, agentId: string) => env.AGENT_TUNNEL.getByName(agentId);

/** The endpoint directory: one object per ref, so no single object is on every run's path. */
export const endpointDirectory = (env: Env, ref: string) => env.ENDPOINT_DIRECTORY.getByName(ref);

/** Inbound webhook ids already accepted, one instance so a replay is refused wherever the Worker runs. */
export const webhookLedger = (env: Env) => env.WEBHOOK_LEDGER.getByName("global");
