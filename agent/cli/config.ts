import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { TheoryError } from "../../src/core/errors.ts";
import { LOG_LEVELS } from "../../src/core/log.ts";
import { describeIssues } from "../../src/core/validation.ts";

/** Everything the CLI and the agent are configured with, resolved once (defaults <- env <- file <- flags). */
const CliConfigSchema = z.strictObject({
  /** State files (localctl's containers), the optional config.json. */
  home: z.string().min(1),
  /** registry.yaml: the tools, their images and pins. */
  registry: z.string().min(1),
  /** The control plane's base URL, for `theory agent`, `theory run`, `modalctl`. */
  controlPlane: z.url({ protocol: /^https?$/ }).optional(),
  /** Bearer token for the control plane (THEORY_TOKEN); never logged. */
  token: z.string().min(1).optional(),
  /** The agent's own token for its tunnel (THEORY_AGENT_TOKEN), else `token`; never logged. */
  agentToken: z.string().min(1).optional(),
  /** The Docker Engine API socket. */
  dockerSocket: z.string().min(1),
  logLevel: z.enum(LOG_LEVELS),
});
export type CliConfig = z.infer<typeof CliConfigSchema>;

export type ConfigFlags = Partial<Pick<CliConfig, "home" | "registry" | "controlPlane" | "logLevel">>;

/** An empty credential (`THEORY_TOKEN=`) is no credential: ERR_AUTH where one is needed, never ERR_INPUTS. */
const credential = (value: string | undefined) => (value === "" ? undefined : value);

/** The credentials the environment holds, for the logger to scrub (before config is read, too). */
export function envSecrets(env: NodeJS.ProcessEnv): string[] {
  // PROCESSOR_TOKEN: what `theory conformance` sends a processor when --token is absent; the
  // MODAL_* secrets: modalctl's proxy auth and the Modal SDK's own credential.
  return [
    env.THEORY_TOKEN,
    env.THEORY_AGENT_TOKEN,
    env.PROCESSOR_TOKEN,
    env.MODAL_PROXY_SECRET,
    env.MODAL_TOKEN_SECRET,
  ].filter((value): value is string => !!value);
}

/** Every credential the CLI may hold, from any source, for the logger to scrub. */
export function cliSecrets(config: CliConfig, env: NodeJS.ProcessEnv): string[] {
  return [...envSecrets(env), config.token, config.agentToken].filter((value): value is string => !!value);
}

const fromEnv = (env: NodeJS.ProcessEnv): Partial<CliConfig> => ({
  home: env.THEORY_HOME,
  registry: env.THEORY_REGISTRY,
  controlPlane: env.THEORY_CONTROL_PLANE,
  token: credential(env.THEORY_TOKEN),
  agentToken: credential(env.THEORY_AGENT_TOKEN),
  dockerSocket: env.DOCKER_HOST?.startsWith("unix://") ? env.DOCKER_HOST.slice("unix://".length) : undefined,
  logLevel: env.THEORY_LOG_LEVEL as CliConfig["logLevel"] | undefined,
});

const defined = <T extends object>(values: T): Partial<T> =>
  Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;

/** The one CLI config resolver. A bad value is ERR_INPUTS naming it. */
export function resolveCliConfig(env: NodeJS.ProcessEnv, flags: ConfigFlags, cwd: string): CliConfig {
  const defaults = {
    home: join(homedir(), ".theory"),
    registry: join(cwd, "registry.yaml"),
    dockerSocket: "/var/run/docker.sock",
    logLevel: "info" as const,
  };
  const home = flags.home ?? env.THEORY_HOME ?? defaults.home;
  let file: Partial<CliConfig> = {};
  try {
    file = JSON.parse(readFileSync(join(home, "config.json"), "utf8")) as Partial<CliConfig>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new TheoryError("ERR_INPUTS", `${join(home, "config.json")} is not valid JSON`);
    }
  }
  const fromFile = { ...file, token: credential(file.token), agentToken: credential(file.agentToken) };
  const merged = { ...defaults, ...defined(fromEnv(env)), ...defined(fromFile), ...defined(flags) };
  const parsed = CliConfigSchema.safeParse(merged);
  if (!parsed.success) throw new TheoryError("ERR_INPUTS", `configuration: ${describeIssues(parsed.error)}`);
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(cwd, path));
  return { ...parsed.data, home: absolute(parsed.data.home), registry: absolute(parsed.data.registry) };
}

/** What may be logged of the config: everything but the tokens. */
export function describeCliConfig(config: CliConfig): Record<string, unknown> {
  const { token, agentToken, ...rest } = config;
  return { ...rest, token: token ? "set" : "unset", agentToken: agentToken ? "set" : "unset" };
}
