/**
 * How the Worker addresses its Durable Objects: by name only, and only here, so the API routes and
 * the objects themselves agree on what each instance is named.
 */
export const runSession = (env: Env, runId: string) => env.RUN_SESSION.getByName(runId);

export const agentTunnel = (env: Env, agentId: string) => env.AGENT_TUNNEL.getByName(agentId);

/** The endpoint directory is one instance: reads after a write are consistent wherever the Worker runs. */
export const endpointDirectory = (env: Env) => env.ENDPOINT_DIRECTORY.getByName("global");

/** Inbound webhook ids already accepted, one instance so a replay is refused wherever the Worker runs. */
export const webhookLedger = (env: Env) => env.WEBHOOK_LEDGER.getByName("global");
