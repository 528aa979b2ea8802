// The Worker's bindings (wrangler.toml) and secrets, in one place. Hand-written rather than
// generated: `wrangler types` also makes every var a required key of Node's process.env, which
// breaks the typing of the Node programs that share this project.
interface Env {
  ARTIFACTS: R2Bucket;
  RUN_SESSION: DurableObjectNamespace<import("../durable-objects/run-session.ts").RunSession>;
  ENDPOINTS: DurableObjectNamespace<import("../durable-objects/endpoint-registry.ts").EndpointRegistry>;
  AGENT_TUNNEL: DurableObjectNamespace<import("../durable-objects/agent-tunnel.ts").AgentTunnel>;
  WEBHOOK_LEDGER: DurableObjectNamespace<import("../durable-objects/webhook-ledger.ts").WebhookLedger>;
  WORLD_ID: string;
  STORAGE: string;
  ENDPOINT_POLICY: string;
  HEALTH_BUDGET_MS: string;
  LOG_LEVEL: string;
}

declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("../src/index.ts");
    durableNamespaces: "RunSession" | "EndpointRegistry" | "AgentTunnel" | "WebhookLedger";
  }
  interface Env extends globalThis.Env {}
}

declare module "*.yaml" {
  const text: string;
  export default text;
}
