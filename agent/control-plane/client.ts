import { ControlPlaneClient } from "../../src/client/control-plane.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { CliContext } from "../cli/context.ts";

/**
 * The package's typed client (src/client/) for the CLI's configured control plane; no URL ->
 * ERR_INPUTS, no token -> ERR_AUTH.
 */
export function controlPlaneClientFor(context: CliContext): ControlPlaneClient {
  const { controlPlane, token } = context.config;
  if (!controlPlane)
    throw new TheoryError("ERR_INPUTS", "give --control-plane URL or set THEORY_CONTROL_PLANE");
  if (!token) throw new TheoryError("ERR_AUTH", "set THEORY_TOKEN to a control plane token");
  return new ControlPlaneClient({ baseUrl: controlPlane, token, log: context.log, signal: context.signal });
}
