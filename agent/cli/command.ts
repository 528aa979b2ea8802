// One way to declare a `theory` command: its flags, positionals and subcommands are declared once;
// the help text and the strict parsing (every mistake is ERR_INPUTS naming it) both come from that.
import { parseArgs } from "node:util";
import { TheoryError } from "../../src/core/errors.ts";
import type { CliContext, CommandResult } from "./context.ts";
import { flagLabel, leafSynopsis, optionRows, renderHelp } from "./help.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  description: string;
  /** The value's name in help (string flags): "R", "amd64|arm64", "IMAGE@sha256:…". */
  placeholder?: string;
  required?: boolean;
  short?: string;
}
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Flags every command accepts, anywhere on the line; main.ts reads them before the command runs. */
export const GLOBAL_OPTIONS = {
  json: {
    type: "boolean",
    description: 'print the result as canonical JSON; a failure too, as {"status":"error","error"} on stdout',
  },
  home: {
    type: "string",
    placeholder: "DIR",
    description: "state (started containers) and config.json (THEORY_HOME; default ~/.theory)",
  },
  registry: {
    type: "string",
    placeholder: "FILE",
    description: "the tool registry (THEORY_REGISTRY; default ./registry.yaml)",
  },
  "control-plane": {
    type: "string",
    placeholder: "URL",
    description: "the control plane's base URL (THEORY_CONTROL_PLANE); its token is THEORY_TOKEN",
  },
  "log-level": {
    type: "string",
    placeholder: "LEVEL",
    description: "debug|info|warn|error, for the NDJSON logs on stderr (THEORY_LOG_LEVEL; default info)",
  },
  help: { type: "boolean", short: "h", description: "print this help" },
} as const satisfies OptionSpecs;

type ValueOf<S extends OptionSpec> = S["type"] extends "boolean"
  ? boolean | undefined
  : S extends { required: true }
    ? string
    : string | undefined;
type ValuesOf<O extends OptionSpecs> = { -readonly [K in keyof O]: ValueOf<O[K]> };
/** What a command's `run` receives: its own flags and the global ones. */
export type ParsedValues<O extends OptionSpecs> = ValuesOf<O> & ValuesOf<typeof GLOBAL_OPTIONS>;
export interface CommandInput<O extends OptionSpecs = Record<never, never>> {
  values: ParsedValues<O>;
  positionals: string[];
}

interface Described {
  name: string;
  /** One line: in the parent's help, and atop its own. */
  summary: string;
  /** Said after the options: credentials, defaults that span flags, what the output is. */
  notes?: string;
}

export interface LeafSpec<O extends OptionSpecs> extends Described {
  options?: O;
  /** Required, in this order. */
  positionals?: readonly { name: string; description: string }[];
  /** Flags of which exactly one must be given. */
  oneOf?: readonly (keyof O & string)[];
  run(input: CommandInput<O>, context: CliContext): Promise<CommandResult>;
}

export interface GroupSpec extends Described {
  subcommands: readonly Command[];
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Its arguments on one line, as its parent's help shows them. */
  readonly synopsis: string;
  /** Every flag it or one of its subcommands takes (a group finds the subcommand's name among them). */
  readonly options: OptionSpecs;
  /** The help text, `path` being how it was invoked ("theory localctl start"). */
  help(path: string): string;
  /** Parses `args` (what follows `path`) strictly and runs; `--help` or `-h` anywhere returns the help. */
  run(args: string[], context: CliContext, path?: string): Promise<CommandResult>;
}

export function defineCommand<const O extends OptionSpecs = Record<never, never>>(spec: LeafSpec<O>): Command;
export function defineCommand(spec: GroupSpec): Command;
export function defineCommand(spec: LeafSpec<OptionSpecs> | GroupSpec): Command {
  return "subcommands" in spec ? defineGroup(spec) : defineLeaf(spec);
}

function defineLeaf(spec: LeafSpec<OptionSpecs>): Command {
  const own = spec.options ?? {};
  const options = { ...GLOBAL_OPTIONS, ...own };
  const synopsis = leafSynopsis(spec);
  const command: Command = {
    name: spec.name,
    summary: spec.summary,
    synopsis,
    options: own,
    help: (path) =>
      renderHelp({
        usage: `${path} ${synopsis ? `${synopsis} ` : ""}[global options]`,
        summary: spec.summary,
        sections: [
          ["arguments:", (spec.positionals ?? []).map(({ name, description }) => [name, description])],
          ["options:", optionRows(own)],
          ["global options:", optionRows(GLOBAL_OPTIONS)],
        ],
        notes: spec.notes,
      }),
    async run(args, context, path = `theory ${spec.name}`) {
      if (helpRequested(args)) return { raw: command.help(path) };
      const fail = (problem: string) => inputError(problem, path);
      const values: Record<string, string | boolean> = {};
      const positionals: string[] = [];
      for (const token of scan(args, options).tokens) {
        if (token.kind === "positional") positionals.push(token.value);
        if (token.kind !== "option") continue;
        const option = options[token.name as keyof typeof options] as OptionSpec | undefined;
        if (!option) throw fail(`unknown flag ${token.rawName}`);
        if (option.type === "boolean") {
          if (token.value !== undefined) throw fail(`${token.rawName} takes no value`);
          values[token.name] = true;
        } else if (token.value === undefined || (!token.inlineValue && looksLikeFlag(token.value))) {
          throw fail(`${token.rawName} needs a value: ${flagLabel(token.name, option)}`);
        } else values[token.name] = token.value;
      }
      const expected = spec.positionals ?? [];
      if (positionals.length > expected.length)
        throw fail(`unexpected argument ${JSON.stringify(positionals[expected.length])}`);
      const missing = expected[positionals.length];
      if (missing) throw fail(`give ${missing.name}: ${path} ${expected.map((p) => p.name).join(" ")}`);
      for (const [name, option] of Object.entries(own))
        if (option.required && (values[name] === undefined || values[name] === ""))
          throw fail(`${flagLabel(name, option)} is required`);
      if (spec.oneOf && spec.oneOf.filter((name) => values[name] !== undefined).length !== 1)
        throw fail(`give exactly one of ${spec.oneOf.map((name) => flagLabel(name, own[name])).join(", ")}`);
      return spec.run({ values: values as ParsedValues<OptionSpecs>, positionals }, context);
    },
  };
  return command;
}

function defineGroup(spec: GroupSpec): Command {
  const names = spec.subcommands.map((subcommand) => subcommand.name).join("|");
  const options: OptionSpecs = Object.assign({}, ...spec.subcommands.map((subcommand) => subcommand.options));
  const command: Command = {
    name: spec.name,
    summary: spec.summary,
    synopsis: `<${names}> …`,
    options,
    help: (path) =>
      renderHelp({
        usage: `${path} <${names}> [options]`,
        summary: spec.summary,
        sections: [
          [
            "subcommands:",
            spec.subcommands.map((subcommand) => [
              subcommand.name,
              subcommand.synopsis ? `${subcommand.synopsis}\n${subcommand.summary}` : subcommand.summary,
            ]),
          ],
          ["global options:", optionRows(GLOBAL_OPTIONS)],
        ],
        notes: `${spec.notes ? `${spec.notes}\n` : ""}\`${path} <subcommand> --help\` describes a subcommand's options.`,
      }),
    async run(args, context, path = `theory ${spec.name}`) {
      const found = firstPositional(args, { ...GLOBAL_OPTIONS, ...options });
      const subcommand = spec.subcommands.find((candidate) => candidate.name === found?.value);
      if (!subcommand || !found) {
        if (helpRequested(args)) return { raw: command.help(path) };
        throw inputError(
          found
            ? `unknown subcommand ${JSON.stringify(found.value)}: ${path} takes ${names}`
            : `give a subcommand: ${path} ${names}`,
          path,
        );
      }
      const rest = args.filter((_, index) => index !== found.index);
      return subcommand.run(rest, context, `${path} ${subcommand.name}`);
    },
  };
  return command;
}

/** `theory --help`: every command's summary (loaded for it), and the global options. */
export function topLevelHelp(commands: readonly Pick<Command, "name" | "summary">[]): string {
  return renderHelp({
    usage: "theory <command> [options]",
    summary: "Runs tools on this machine's Docker engine, on Modal, or through a Theory control plane.",
    sections: [
      ["commands:", commands.map(({ name, summary }) => [name, summary])],
      ["global options (every command takes them, anywhere on the line):", optionRows(GLOBAL_OPTIONS)],
    ],
    notes:
      "`theory <command> --help` describes a command. The result goes to stdout, logs (NDJSON) to stderr; " +
      "the exit status is 0 on success, else the error code's (see the README).",
  });
}

/** `--help` or `-h` before any `--`. */
export const helpRequested = (args: string[]): boolean => given(args, "--help", "-h");

function given(args: string[], ...flags: string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) => flags.includes(arg));
}

type GlobalStringFlag = "home" | "registry" | "control-plane" | "log-level";

/**
 * The global flags as main.ts needs them before the command runs (for the config, the logger and
 * the error's form), read by the rules the command's own parser then applies to the whole line.
 */
export function readGlobals(args: string[]): { json: boolean } & Partial<Record<GlobalStringFlag, string>> {
  const values: Partial<Record<string, string>> = {};
  for (const token of scan(args, GLOBAL_OPTIONS).tokens) {
    if (token.kind !== "option" || token.value === undefined) continue;
    const option = GLOBAL_OPTIONS[token.name as keyof typeof GLOBAL_OPTIONS] as OptionSpec | undefined;
    if (option?.type === "string" && (token.inlineValue || !looksLikeFlag(token.value)))
      values[token.name] = token.value;
  }
  // By the word, not the token: in `--home --json`, --json is still meant (and --home lacks its value).
  return { ...values, json: given(args, "--json") };
}

/** The first word that is not a flag or a flag's value (a command's or subcommand's name), and where. */
export function firstPositional(args: string[], options: OptionSpecs) {
  for (const token of scan(args, options).tokens)
    if (token.kind === "positional") return { value: token.value, index: token.index };
  return undefined;
}

export function inputError(problem: string, path: string): TheoryError {
  return new TheoryError("ERR_INPUTS", `${problem} (see ${path} --help)`);
}

/** Tokens only: what is wrong with them is for the caller to say, in its own words. */
function scan(args: string[], options: OptionSpecs) {
  const config = Object.fromEntries(
    Object.entries(options).map(([name, { type, short }]) => [name, short ? { type, short } : { type }]),
  );
  return parseArgs({ args, options: config, strict: false, allowPositionals: true, tokens: true });
}

/** As node:util's strict mode has it: `--ref --json` is a missing value, `--inputs -` is not. */
const looksLikeFlag = (value: string) => value.length > 1 && value.startsWith("-");

export function positiveIntFlag(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^[0-9]+$/.test(value) || number < 1 || number > max) {
    throw new TheoryError("ERR_INPUTS", `${flag} must be a whole number from 1 to ${max}`);
  }
  return number;
}
