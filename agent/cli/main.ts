// `theory …`: a lazy command map, one config resolver, NDJSON logs on stderr, the final result on stdout.
import { parseArgs } from "node:util";
import { canonicalJson } from "../../src/core/canonical.ts";
import { TheoryError, toErrorBody } from "../../src/core/errors.ts";
import { createLogger } from "../../src/core/log.ts";
import { describeCliConfig, resolveCliConfig } from "./config.ts";
import { type CliContext, type Command, GLOBAL_OPTIONS } from "./context.ts";
import { EXIT_CODES } from "./exit-codes.ts";

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  imagectl: () => import("../commands/imagectl.ts"),
  agent: () => import("../commands/agent.ts"),
  localctl: () => import("../commands/localctl.ts"),
  modalctl: () => import("../commands/modalctl.ts"),
  run: () => import("../commands/run.ts"),
  runs: () => import("../commands/runs.ts"),
};

async function usage(): Promise<string> {
  const lines = [
    "usage: theory <command> [args] [--json] [--home DIR] [--registry FILE] [--control-plane URL]",
    "",
  ];
  for (const [name, load] of Object.entries(COMMANDS))
    lines.push(`  ${name.padEnd(10)} ${(await load()).command.summary}`);
  return `${lines.join("\n")}\n`;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...rest] = argv;
  const globals = parseArgs({
    args: rest,
    options: GLOBAL_OPTIONS,
    strict: false,
    allowPositionals: true,
  }).values;
  const json = globals.json === true;
  const log = createLogger({
    level: (globals["log-level"] as "info") ?? "info",
    secrets: env.THEORY_TOKEN ? [env.THEORY_TOKEN] : [],
  });
  if (!name || name === "--help" || name === "-h" || !(name in COMMANDS)) {
    process.stderr.write(await usage());
    return name && !name.startsWith("-") ? EXIT_CODES.ERR_INPUTS : 0;
  }
  const controller = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => controller.abort(new TheoryError("ERR_CANCELED", `stopped by ${signal}`)));
  try {
    const config = resolveCliConfig(
      env,
      {
        home: globals.home as string | undefined,
        registry: globals.registry as string | undefined,
        controlPlane: globals["control-plane"] as string | undefined,
        logLevel: globals["log-level"] as CliContext["config"]["logLevel"] | undefined,
      },
      process.cwd(),
    );
    const context: CliContext = {
      config,
      log: createLogger({
        level: config.logLevel,
        secrets: config.token ? [config.token] : [],
        fields: { target: name },
      }),
      env,
      stdin: process.stdin,
      stderrIsTTY: process.stderr.isTTY === true,
      signal: controller.signal,
    };
    context.log.debug("config.resolved", describeCliConfig(config));
    const load = COMMANDS[name] as (typeof COMMANDS)[string]; // `name in COMMANDS` was checked above
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
    log.error(`error.${name}`, { code: body.code, message: body.message });
    if (json) process.stdout.write(`${canonicalJson({ status: "error", error: body })}\n`);
    return EXIT_CODES[body.code];
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
