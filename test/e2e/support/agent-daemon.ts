import { AgentDaemon, type AgentDaemonOptions } from "../../../agent/daemon/daemon.ts";
import { createLogger } from "../../../src/core/log.ts";

/**
 * The agent daemon in the test's own process, connected (its Hello sent) before this returns. It
 * heartbeats every 500 ms and reconnects within half a second, so tests that stop or restart the
 * control plane see it come back quickly; its log goes nowhere unless the test passes one.
 */
export async function startAgentDaemon(
  options: Pick<AgentDaemonOptions, "controlPlane" | "agentId" | "token" | "home"> &
    Partial<Pick<AgentDaemonOptions, "log">>,
): Promise<AgentDaemon> {
  const daemon = new AgentDaemon({
    platform: "amd64",
    log: createLogger({ sink: () => {}, level: "error" }),
    heartbeatMs: 500,
    reconnect: { initialMs: 100, maxMs: 500, factor: 2, jitter: 0.2, totalMs: Number.POSITIVE_INFINITY },
    ...options,
  });
  const ready = daemon.ready();
  daemon.start();
  await ready;
  return daemon;
}
