// The help text of a declared command, rendered from its declarations (agent/cli/command.ts).
import type { LeafSpec, OptionSpec, OptionSpecs } from "./command.ts";

const WIDTH = 100;
/** Labels longer than this put their description on the next line. */
const LABEL_COLUMN = 30;
const USAGE_INDENT = " ".repeat(9);

type Row = readonly [label: string, text: string];

export interface HelpParts {
  usage: string;
  summary: string;
  sections: readonly (readonly [title: string, rows: readonly Row[]])[];
  notes?: string;
}

/** `--ref R`, `--json`: a flag as it is typed. */
export function flagLabel(name: string, option: OptionSpec | undefined): string {
  return option?.type === "string" ? `--${name} ${option.placeholder ?? "VALUE"}` : `--${name}`;
}

export function optionRows(options: OptionSpecs): Row[] {
  return Object.entries(options).map(([name, option]) => [
    `${option.short ? `-${option.short}, ` : ""}${flagLabel(name, option)}`,
    `${option.description}${option.required ? " (required)" : ""}`,
  ]);
}

/** `--ref R [--oci IMAGE] (--inputs-json JSON | --inputs -) ID`: required bare, optional bracketed. */
export function leafSynopsis(spec: Pick<LeafSpec<OptionSpecs>, "options" | "oneOf" | "positionals">): string {
  const options = spec.options ?? {};
  const oneOf: readonly string[] = spec.oneOf ?? [];
  const parts: string[] = [];
  let oneOfPlaced = false;
  for (const [name, option] of Object.entries(options)) {
    if (!oneOf.includes(name))
      parts.push(option.required ? flagLabel(name, option) : `[${flagLabel(name, option)}]`);
    else if (!oneOfPlaced) {
      parts.push(`(${oneOf.map((member) => flagLabel(member, options[member])).join(" | ")})`);
      oneOfPlaced = true;
    }
  }
  for (const positional of spec.positionals ?? []) parts.push(positional.name);
  return parts.join(" ");
}

export function renderHelp(parts: HelpParts): string {
  const lines = [
    ...wrap(`usage: ${parts.usage}`, WIDTH - USAGE_INDENT.length).map((line, i) =>
      i === 0 ? line : USAGE_INDENT + line,
    ),
    "",
    ...wrap(parts.summary, WIDTH),
  ];
  for (const [title, rows] of parts.sections) {
    if (rows.length === 0) continue;
    lines.push("", title, ...table(rows));
  }
  if (parts.notes) lines.push("", ...wrap(parts.notes, WIDTH));
  return `${lines.join("\n")}\n`;
}

function table(rows: readonly Row[]): string[] {
  const column = Math.min(LABEL_COLUMN, Math.max(...rows.map(([label]) => label.length)));
  const indent = " ".repeat(2 + column + 2);
  return rows.flatMap(([label, text]) => {
    const lines = wrap(text, WIDTH - indent.length);
    if (label.length > column) return [`  ${label}`, ...lines.map((line) => indent + line)];
    return lines.map((line, i) => (i === 0 ? `  ${label.padEnd(column)}  ${line}` : indent + line));
  });
}

/** `--ref R`: a flag still waiting for its value. */
const OPEN_FLAG = /^--?[a-z][^\s]*$/;
/** `[--tail N]`, `(--inputs-json JSON | --inputs -)`, `[global options]`: a bracket not yet closed. */
const OPEN_GROUP = /^(\[|\(--?[a-z])/;

/** Words into the units a line must not break: a flag and its value, a bracketed flag or group. */
function units(paragraph: string): string[] {
  const joined: string[] = [];
  let closer: string | undefined;
  for (const word of paragraph.split(" ")) {
    const last = joined.at(-1);
    if (last !== undefined && (closer !== undefined || (OPEN_FLAG.test(last) && !/^[[(|-]/.test(word))))
      joined[joined.length - 1] = `${last} ${word}`;
    else joined.push(word);
    if (closer === undefined && OPEN_GROUP.test(word)) closer = word.startsWith("[") ? "]" : ")";
    if (closer !== undefined && word.endsWith(closer)) closer = undefined;
  }
  return joined;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const piece of units(paragraph)) {
      if (line && line.length + 1 + piece.length > width) {
        lines.push(line);
        line = piece;
      } else line = line ? `${line} ${piece}` : piece;
    }
    lines.push(line);
  }
  return lines;
}
