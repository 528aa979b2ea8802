import { redact } from "./redact.ts";

/** docs/operations.md#logs: NDJSON on stderr (Node) or the console (workerd); stdout is for final results only. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogFields {
  target?: string;
  ref?: string;
  execution_id?: string;
  elapsed_ms?: number;
  [field: string]: unknown;
}

export interface LogEvent extends LogFields {
  ts: string;
  level: LogLevel;
  event: string;
}

export type LogSink = (line: string) => void;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every event. */
  child(fields: LogFields): Logger;
}

/** The runtime's stderr, where it has one: Node's, seen without Node's types (this file runs everywhere). */
const stderr = (globalThis as { process?: { stderr?: { write?(text: string): unknown } } }).process?.stderr;

/** stderr where the runtime has one (Node), the console otherwise (workerd). */
export const defaultSink: LogSink =
  typeof stderr?.write === "function"
    ? (line) => void stderr.write?.(`${line}\n`)
    : (line) => console.log(line);

export interface LoggerOptions {
  sink?: LogSink;
  level?: LogLevel;
  clock?: () => Date;
  /** Secret values to scrub wherever they appear, besides sensitive keys. */
  secrets?: readonly string[];
  fields?: LogFields;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const sink = options.sink ?? defaultSink;
  const minimum = LOG_LEVELS.indexOf(options.level ?? "info");
  const clock = options.clock ?? (() => new Date());
  const base = options.fields ?? {};
  const write = (level: LogLevel, event: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) < minimum) return;
    const clean = redact({ ...base, ...fields }, options.secrets) as LogFields;
    const head = { ts: clock().toISOString(), level, event };
    // Fields never override the head, whatever a caller passes.
    const line: LogEvent = Object.assign({ ...head }, clean, head);
    sink(JSON.stringify(line));
  };
  return {
    debug: (event, fields) => write("debug", event, fields),
    info: (event, fields) => write("info", event, fields),
    warn: (event, fields) => write("warn", event, fields),
    error: (event, fields) => write("error", event, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}
