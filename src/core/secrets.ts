import { TheoryError } from "./errors.ts";

/**
 * The named secrets' values from `env` (the CLI's environment, the processor's). Any absent or empty
 * is ERR_MISSING_SECRET naming every one missing, with `note` saying what that stopped.
 */
export function requireSecrets(
  names: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  note?: string,
): Record<string, string> {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0)
    throw new TheoryError(
      "ERR_MISSING_SECRET",
      `missing secret: ${missing.join(", ")}${note ? ` (${note})` : ""}`,
    );
  return Object.fromEntries(names.map((name) => [name, env[name] as string]));
}
