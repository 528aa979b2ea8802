import { arch } from "node:os";
import { AgentIdSchema, type Platform } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { defineCommand } from "../cli/command.ts";
import { AgentDaemon } from "../daemon/daemon.ts";

const PLATFORM_BY_ARCH: Record<string, Platform> = { x64: "amd64", arm64: "arm64" };

/** `theory agent --control-plane URL --agent-id ID` (token: THEORY_AGENT_TOKEN, else THEORY_TOKEN). */
export const command = defineCommand({
  name: "agent",
  summary: "run the local agent: tunnel to the control plane, bridge runs to started containers",
  notes:
    "Needs --control-plane URL (or THEORY_CONTROL_PLANE) and a token with agents:connect for this agent: " +
    "THEORY_AGENT_TOKEN, else THEORY_TOKEN. Runs until SIGINT or SIGTERM, then prints {agent_id, stopped}, " +
    "reconnecting with backoff while the control plane is away; a refused credential or Hello stops it with ERR_AUTH.",
  options: {
    "agent-id": {
      type: "string",
      placeholder: "ID",
      description: "this agent's id, as runs with target local name it: [a-z0-9-], 1-63",
      required: true,
    },
  },
  async run({ values }, context) {
    const agentId = AgentIdSchema.safeParse(values["agent-id"]);
    if (!agentId.success) throw new TheoryError("ERR_INPUTS", "--agent-id ID is required ([a-z0-9-], 1-63)");
    const controlPlane = context.config.controlPlane;
    if (!controlPlane)
      throw new TheoryError("ERR_INPUTS", "--control-plane URL (or THEORY_CONTROL_PLANE) is required");
    const token = context.config.agentToken ?? context.config.token;
    if (!token)
      throw new TheoryError(
        "ERR_AUTH",
        "set THEORY_AGENT_TOKEN to a token with agents:connect for this agent",
      );
    const platform = PLATFORM_BY_ARCH[arch()];
    if (!platform) throw new TheoryError("ERR_INPUTS", `unsupported architecture ${arch()}`);
    const daemon = new AgentDaemon({
      controlPlane,
      agentId: agentId.data,
      token,
      platform,
      home: context.config.home,
      log: context.log.child({ target: "local" }),
    });
    const stopRequested = new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve();
      context.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    daemon.start();
    // Up until SIGINT/SIGTERM, across control-plane outages; a permanent refusal rejects (ERR_AUTH).
    try {
      await Promise.race([daemon.finished(), stopRequested]);
    } finally {
      await daemon.stop();
    }
    return { value: { agent_id: agentId.data, stopped: true } };
  },
});
