import type { ToolRegistry } from "../contract/tool-registry.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { type ControlPlaneConfig, resolveConfig } from "./config.ts";
import { RunIndex } from "./run-index.ts";
import { createObjectStore, type ObjectStore } from "./storage/index.ts";
import { bundledToolRegistry } from "./tool-registry.ts";

/** What the Worker and its Durable Objects share: config, logger, tool registry, storage, the run index. */
export interface Runtime {
  config: ControlPlaneConfig;
  log: Logger;
  toolRegistry: ToolRegistry;
  store: ObjectStore;
  runIndex: RunIndex;
}

const runtimes = new WeakMap<object, Runtime>();

/** Built once per bindings object; a misconfiguration surfaces as ERR_INTERNAL on first use. */
export function runtimeFor(env: Env): Runtime {
  const cached = runtimes.get(env);
  if (cached) return cached;
  const bootLog = createLogger({ fields: { target: "control-plane" } });
  const config = resolveConfig(env, bootLog);
  const secrets = [config.s3?.secretAccessKey, config.modalProxy?.secret].filter(
    (s): s is string => s !== undefined,
  );
  const log = createLogger({ level: config.logLevel, secrets, fields: { target: "control-plane" } });
  const runtime = {
    config,
    log,
    toolRegistry: bundledToolRegistry(),
    store: createObjectStore(config, env.ARTIFACTS),
    runIndex: new RunIndex(env.RUN_INDEX),
  };
  runtimes.set(env, runtime);
  return runtime;
}
