// `theory …`: a lazy command map, one config resolver, NDJSON logs on stderr, the final result on stdout.
import { canonicalJson } from "../../src/core/canonical.ts";
import { TheoryError, toErrorBody } from "../../src/core/errors.ts";
import { createLogger } from "../../src/core/log.ts";
import {
  type Command,
  firstPositional,
  GLOBAL_OPTIONS,
  helpRequested,
  inputError,
  readGlobals,
  topLevelHelp,
} from "./command.ts";
import { cliSecrets, describeCliConfig, envSecrets, resolveCliConfig } from "./config.ts";
import type { CliContext } from "./context.ts";
import { EXIT_CODES } from "./exit-codes.ts";

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  agent: () => import("../commands/agent.ts"),
  conformance: () => import("../commands/conformance.ts"),
  imagectl: () => import("../commands/imagectl.ts"),
  localctl: () => import("../commands/localctl.ts"),
  modalctl: () => import("../commands/modalctl.ts"),
  run: () => import("../commands/run.ts"),
  runs: () => import("../commands/runs.ts"),
  tools: () => import("../commands/tools.ts"),
};

const NAMES = Object.keys(COMMANDS).join("|");

/** Every command is loaded for this one. */
async function usage(): Promise<string> {
  return topLevelHelp(await Promise.all(Object.values(COMMANDS).map(async (load) => (await load()).command)));
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Global flags may come before the command's name, so its name is the first word that is no flag.
  const found = firstPositional(argv, GLOBAL_OPTIONS);
  const name = found?.value;
  const rest = argv.filter((_, index) => index !== found?.index);
  const globals = readGlobals(rest);
  const json = globals.json;
  const log = createLogger({
    level: (globals["log-level"] as "info" | undefined) ?? "info",
    secrets: envSecrets(env),
  });
  if (name === undefined && helpRequested(argv)) {
    process.stdout.write(await usage());
    return 0;
  }
  const load = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  const controller = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => controller.abort(new TheoryError("ERR_CANCELED", `stopped by ${signal}`)));
  try {
    if (!name || !load)
      throw inputError(
        name
          ? `unknown command ${JSON.stringify(name)}: theory takes ${NAMES}`
          : `give a command: theory ${NAMES}`,
        "theory",
      );
    const config = resolveCliConfig(
      env,
      {
        home: globals.home,
        registry: globals.registry,
        controlPlane: globals["control-plane"],
        logLevel: globals["log-level"] as CliContext["config"]["logLevel"] | undefined,
      },
      process.cwd(),
    );
    const context: CliContext = {
      config,
      log: createLogger({
        level: config.logLevel,
        secrets: cliSecrets(config, env),
        fields: { target: name },
      }),
      env,
      stdin: process.stdin,
      stderrIsTTY: process.stderr.isTTY === true,
      signal: controller.signal,
    };
    context.log.debug("config.resolved", describeCliConfig(config));
    const { command } = await load();
    const result = await command.run(rest, context);
    process.stdout.write(
      "raw" in result
        ? result.raw
        : `${json ? canonicalJson(result.value) : JSON.stringify(result.value, null, 2)}\n`,
    );
    return result.code ? EXIT_CODES[result.code] : 0;
  } catch (error) {
    const body = toErrorBody(error);
    if (!(error instanceof TheoryError)) log.error("error.cli.crash", { error: error as Error });
    log.error(`error.${load ? name : "cli"}`, { code: body.code, message: body.message });
    if (json) process.stdout.write(`${canonicalJson({ status: "error", error: body })}\n`);
    return EXIT_CODES[body.code];
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
