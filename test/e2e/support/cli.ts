import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..", "..");

/** How a CLI process ended: its exit code and everything it wrote. */
export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TheoryProcess {
  child: ChildProcess;
  /** What it wrote so far. */
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exited>;
}

/**
 * The real `theory` CLI as a user runs it, in a subprocess from the repo's root: its environment is
 * PATH and `env` alone (an undefined value leaves the variable out), its output collected.
 */
export function startTheory(args: string[], env: Record<string, string | undefined> = {}): TheoryProcess {
  const child = spawn(process.execPath, [join(root, "agent", "bin", "theory.js"), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => (stdout += chunk));
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<Exited>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** `theory …` to its end. */
export const runTheory = (args: string[], env: Record<string, string | undefined> = {}) =>
  startTheory(args, env).exited;

/**
 * `theory …` on a pseudo-terminal (`script` gives it one), to its end: what a user sees at a
 * terminal, stdout and stderr merged into `stdout`, line ends as `\n`.
 */
export function runTheoryOnTerminal(args: string[], env: Record<string, string | undefined> = {}) {
  const command = [process.execPath, join(root, "agent", "bin", "theory.js"), ...args]
    .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
    .join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "ignore"],
  });
  let stdout = "";
  child.stdout?.on("data", (chunk) => (stdout += chunk));
  return new Promise<Exited>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout: stdout.replaceAll("\r\n", "\n"), stderr: "" })),
  );
}
