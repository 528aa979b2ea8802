/**
 * How the Worker addresses its Durable Objects: by name only, and only here, so the API routes and
 * the objects themselves agree on what each instance is named.
 */
export const runSession = (env: Env, runId: string) => env.RUN_SESSION.getByName(runId);

export const agentTunnel = (env: Env, agentId: string) => env.AGENT_TUNNEL.getByName(agentId);

/** The endpoint directory: one object per ref, so no single object is on every run's path. */
export const endpointDirectory = (env: Env, ref: string) => env.ENDPOINT_DIRECTORY.getByName(ref);

/** How many objects the webhook ledger is spread over: hooks from CI never queue on one object. */
const LEDGER_SHARDS = 64;

/** The ledger shard that remembers `key` (a source and its delivery id): FNV-1a, so every isolate agrees. */
export function webhookLedgerShard(key: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return `shard-${(hash >>> 0) % LEDGER_SHARDS}`;
}

/** Inbound webhook deliveries already accepted: the one shard that knows `key`, wherever the Worker runs. */
export const webhookLedger = (env: Env, key: string) => env.WEBHOOK_LEDGER.getByName(webhookLedgerShard(key));
