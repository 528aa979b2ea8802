// Makes `.dev.vars` for `npm run dev` once: a fresh admin token (all scopes), stored only as its
// SHA-256. The token itself goes to .theory/token (gitignored) and is shown once on stderr.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeToken } from "./lib/local-stack.ts";

const root = join(import.meta.dirname, "..");
const devVars = join(root, ".dev.vars");
if (existsSync(devVars)) process.exit(0);
const { token, authTokens } = makeToken("dev");
await writeFile(devVars, `AUTH_TOKENS='${authTokens}'\n`, { mode: 0o600 });
await mkdir(join(root, ".theory"), { recursive: true });
await writeFile(join(root, ".theory", "token"), `${token}\n`, { mode: 0o600 });
process.stderr.write(
  `${JSON.stringify({ level: "info", event: "dev.token.created", path: ".theory/token", hint: "export THEORY_TOKEN=$(cat .theory/token)" })}\n`,
);
