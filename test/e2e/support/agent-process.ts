import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..", "..");

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
  const child = spawn(
    process.execPath,
    [join(root, "agent", "bin", "theory.js"), "agent", "--agent-id", options.agentId, "--json"],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        THEORY_HOME: options.home,
        THEORY_CONTROL_PLANE: options.controlPlane,
        THEORY_AGENT_TOKEN: options.token,
        THEORY_LOG_LEVEL: "debug",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => (stdout += chunk));
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}
