// #/agents: GET /v1/agents, refreshed every two seconds: online or not, last seen, platform, tools.
import type { AgentStatus } from "../../src/contract/api.ts";
import { fill, h, row, table } from "../dom.ts";
import { age, clock, shortDigest } from "../format.ts";
import { every } from "../live.ts";
import { problem } from "../problems.ts";
import type { ViewContext } from "../view.ts";

const COLUMNS = ["Agent", "Status", "Last seen", "Platform", "Tools", "Runs"];
const REFRESH_MS = 2000;

export function agentsView({ main, session, signal }: ViewContext): void {
  const problems = h("div", { class: "problems" });
  const body = h("tbody");
  fill(
    main,
    h("h1", {}, "Agents"),
    h(
      "p",
      { class: "hint" },
      "Machines that run target local through their tunnel (",
      h("code", {}, "theory agent"),
      ").",
    ),
    problems,
    h("div", { class: "scroll" }, table("Agents", COLUMNS, body)),
  );
  const client = session.client(signal);
  void every(
    REFRESH_MS,
    signal,
    async () => {
      const agents = await client.listAgents();
      const now = Date.now();
      if (agents.length === 0)
        fill(body, h("tr", {}, h("td", { colspan: COLUMNS.length }, "No token is bound to an agent.")));
      else fill(body, ...agents.map((agent) => agentRow(agent, now)));
      fill(problems);
    },
    (error) => fill(problems, problem(error)),
  );
}

function agentRow(agent: AgentStatus, now: number): HTMLTableRowElement {
  const status = agent.online ? "online" : "offline";
  return row(
    COLUMNS,
    [
      h("code", {}, agent.agent_id),
      h("span", { class: `state state-${status}`, "data-state": status }, status),
      agent.last_seen
        ? h("time", { datetime: agent.last_seen, title: clock(agent.last_seen) }, age(agent.last_seen, now))
        : "never",
      agent.platform ?? "—",
      agent.tools.length
        ? h(
            "ul",
            { class: "plain" },
            ...agent.tools.map((tool) =>
              h(
                "li",
                { title: tool.image_digest },
                tool.ref,
                ` ${shortDigest(tool.image_digest)}`,
                tool.healthy ? "" : " (unhealthy)",
              ),
            ),
          )
        : "—",
      h("a", { href: `#/runs?${new URLSearchParams({ agent: agent.agent_id })}` }, "runs"),
    ],
    { "data-agent-id": agent.agent_id },
  );
}
