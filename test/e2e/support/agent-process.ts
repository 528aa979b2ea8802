import type { ChildProcess } from "node:child_process";
import { startTheory } from "./cli.ts";

export interface AgentProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The real `theory agent` process as an operator runs it, its output collected. */
export function startAgentProcess(options: {
  agentId: string;
  token: string;
  home: string;
  controlPlane: string;
}): AgentProcess {
  const agent = startTheory(["agent", "--agent-id", options.agentId, "--json"], {
    THEORY_HOME: options.home,
    THEORY_CONTROL_PLANE: options.controlPlane,
    THEORY_AGENT_TOKEN: options.token,
    THEORY_LOG_LEVEL: "debug",
  });
  return { ...agent, exited: agent.exited.then((exited) => exited.code) };
}
