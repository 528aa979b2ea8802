import { TheoryError } from "../../src/core/errors.ts";
import type { CliContext } from "../cli/context.ts";
import { ControlPlaneClient } from "./client.ts";

/** The client for the configured control plane; no token -> ERR_AUTH, no URL -> ERR_INPUTS. */
export function clientFor(context: CliContext): ControlPlaneClient {
  const { controlPlane, token } = context.config;
  if (!token) throw new TheoryError("ERR_AUTH", "set THEORY_TOKEN to a control plane token");
  if (!controlPlane)
    throw new TheoryError("ERR_INPUTS", "give --control-plane URL or set THEORY_CONTROL_PLANE");
  return new ControlPlaneClient({ baseUrl: controlPlane, token, log: context.log, signal: context.signal });
}
