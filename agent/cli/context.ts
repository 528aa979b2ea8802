import type { ErrorCode } from "../../src/contract/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import type { CliConfig } from "./config.ts";

/** What every command is handed: resolved config, the stderr logger, the process's streams. */
export interface CliContext {
  config: CliConfig;
  log: Logger;
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  /** Progress goes to stderr only when it is a terminal. */
  stderrIsTTY: boolean;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/**
 * A command's final result: `value` is printed on stdout as JSON, or `raw` exactly as it is (an
 * envelope's canonical bytes). `code` marks a failed result (e.g. an error envelope) for the exit status.
 */
export type CommandResult = { value: unknown; code?: ErrorCode } | { raw: string; code?: ErrorCode };
