#!/usr/bin/env node
// Runs the TypeScript CLI directly on a Node that strips types (>= 22.18), else on the Node 24 this
// package installs (the `node` package), so an older system Node works too.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const [major, minor] = process.versions.node.split(".").map(Number);
if (major > 22 || (major === 22 && minor >= 18)) {
  await import(cli);
} else {
  const node = createRequire(import.meta.url).resolve("node/bin/node");
  const child = spawnSync(node, [cli, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}
