import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Browser, chromium } from "playwright-core";

const root = join(import.meta.dirname, "..", "..", "..");

/** Debian's Chromium: never a downloaded browser. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Chromium, headless, driven by playwright-core; installed first (scripts/browser/ensure-chromium.sh,
 * as root on a fresh machine) when it is missing.
 */
export async function launchChromium(): Promise<Browser> {
  await promisify(execFile)("bash", [join(root, "scripts", "browser", "ensure-chromium.sh")], {
    cwd: root,
  }).catch((error) => {
    throw new Error(`scripts/browser/ensure-chromium.sh failed:\n${error.stderr ?? error.message}`);
  });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
}
