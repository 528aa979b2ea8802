import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestProject } from "vitest/node";

import type { Peers } from "./provided.ts";

/** Starts the Node peers (test/support/peers-main.ts) for the workerd tests and provides their URLs. */
export default async function setup(project: TestProject) {
  const child = spawn(process.execPath, [join(import.meta.dirname, "../support/peers-main.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`test peers exited early (${code})`)));
  });
  const peers = JSON.parse(line) as Peers;
  project.provide("s3Endpoint", peers.s3Endpoint);
  project.provide("processors", peers.processors);
  return async () => {
    child.stdin.end();
    await new Promise((resolve) => child.once("exit", resolve));
  };
}
