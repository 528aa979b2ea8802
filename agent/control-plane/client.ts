import { ControlPlaneClient } from "../../src/client/control-plane.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { CliContext } from "../cli/context.ts";

// The CLI's client is the package's typed client (src/client/), configured from the CLI's config.
export {
  ControlPlaneClient,
  type ControlPlaneClientOptions,
  type OutputDownload,
  type PersistedEnvelope,
  REQUEST_TIMEOUT_MS,
  STREAM_RECONNECT,
} from "../../src/client/control-plane.ts";
export type { SseEvent } from "../../src/core/sse-reader.ts";

/** The client for the configured control plane; no URL -> ERR_INPUTS, no token -> ERR_AUTH. */
export function controlPlaneClientFor(context: CliContext): ControlPlaneClient {
  const { controlPlane, token } = context.config;
  if (!controlPlane)
    throw new TheoryError("ERR_INPUTS", "give --control-plane URL or set THEORY_CONTROL_PLANE");
  if (!token) throw new TheoryError("ERR_AUTH", "set THEORY_TOKEN to a control plane token");
  return new ControlPlaneClient({ baseUrl: controlPlane, token, log: context.log, signal: context.signal });
}
