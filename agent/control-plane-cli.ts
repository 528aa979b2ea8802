import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { TheoryError } from "../src/core/errors.ts";
import { type CliContext, GLOBAL_OPTIONS } from "./context.ts";
import { ControlPlaneClient } from "./control-plane-client.ts";

/** What `theory run` and `theory runs` share: strict flag parsing and a client from the config. */
export function parseFlags<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
  positionals = false,
) {
  try {
    return parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options },
      strict: true,
      allowPositionals: positionals,
    });
  } catch (error) {
    throw new TheoryError("ERR_INPUTS", (error as Error).message);
  }
}

/** The client for the configured control plane; no token -> ERR_AUTH, no URL -> ERR_INPUTS. */
export function clientFor(context: CliContext): ControlPlaneClient {
  const { controlPlane, token } = context.config;
  if (!token) throw new TheoryError("ERR_AUTH", "set THEORY_TOKEN to a control plane token");
  if (!controlPlane)
    throw new TheoryError("ERR_INPUTS", "give --control-plane URL or set THEORY_CONTROL_PLANE");
  return new ControlPlaneClient({ baseUrl: controlPlane, token, log: context.log, signal: context.signal });
}
