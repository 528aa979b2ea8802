import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { AGENT_SUBPROTOCOL } from "../../contract/agent-frames.ts";
import { connectAgentRoute, listAgentsRoute } from "../../contract/routes.ts";
import { TheoryError } from "../../core/errors.ts";
import { agentTunnel } from "../objects.ts";
import type { AppEnv } from "./context.ts";
import { mount } from "./mount.ts";

const tunnel = (c: Context<AppEnv>, agentId: string) => agentTunnel(c.env, agentId);

/** `/v1/agents` (docs/api.md#routes). */
export function mountAgents(app: OpenAPIHono<AppEnv>): void {
  /** Every agent a token is issued for, with whether its tunnel is up and when it was last heard. */
  mount(app, listAgentsRoute, async (c) => {
    const ids = [
      ...new Set(c.var.runtime.config.tokens.flatMap((grant) => (grant.agent ? [grant.agent] : []))),
    ].sort();
    return c.json({ agents: await Promise.all(ids.map((id) => tunnel(c, id).status(id))) });
  });
  /** The agent's outbound tunnel (theory.agent.v1). The token decides which agent it is. */
  mount(app, connectAgentRoute, async (c) => {
    const agentId = c.var.grant.agent;
    if (!agentId) throw new TheoryError("ERR_AUTH", "this token is not bound to an agent", { status: 403 });
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new TheoryError("ERR_INPUTS", "a WebSocket upgrade is required");
    }
    const offered = (c.req.header("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(AGENT_SUBPROTOCOL))
      throw new TheoryError("ERR_INPUTS", `subprotocol ${AGENT_SUBPROTOCOL} is required`);
    const url = new URL("https://agent-tunnel/agent");
    url.searchParams.set("agent_id", agentId);
    return tunnel(c, agentId).fetch(new Request(url, { headers: { Upgrade: "websocket" } }));
  });
}
