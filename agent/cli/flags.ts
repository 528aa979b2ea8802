import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { TheoryError } from "../../src/core/errors.ts";
import { GLOBAL_OPTIONS } from "./context.ts";

/** Strict flag parsing on top of the global flags; anything unknown or malformed is ERR_INPUTS. */
export function parseFlags<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
  positionals = false,
) {
  try {
    return parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options },
      strict: true,
      allowPositionals: positionals,
    });
  } catch (error) {
    throw new TheoryError("ERR_INPUTS", (error as Error).message);
  }
}

export function requiredFlag(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new TheoryError("ERR_INPUTS", `${flag} is required`);
  return value;
}

export function positiveIntFlag(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^[0-9]+$/.test(value) || number < 1 || number > max) {
    throw new TheoryError("ERR_INPUTS", `${flag} must be a whole number from 1 to ${max}`);
  }
  return number;
}
