import { readFile } from "node:fs/promises";
import { InputsSchema } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";

export const INPUT_OPTIONS = {
  "inputs-json": { type: "string" },
  "inputs-file": { type: "string" },
  inputs: { type: "string" },
} as const;

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/** `--inputs-json JSON` | `--inputs-file PATH` | `--inputs -` (stdin): exactly one, a JSON object. */
export async function readInputs(
  values: { "inputs-json"?: string; "inputs-file"?: string; inputs?: string },
  stdin: NodeJS.ReadableStream,
): Promise<Record<string, unknown>> {
  const given = (["inputs-json", "inputs-file", "inputs"] as const).filter(
    (flag) => values[flag] !== undefined,
  );
  if (given.length !== 1) {
    throw new TheoryError(
      "ERR_INPUTS",
      "give exactly one of --inputs-json JSON, --inputs-file PATH, --inputs -",
    );
  }
  let text: string;
  if (values["inputs-json"] !== undefined) text = values["inputs-json"];
  else if (values["inputs-file"] !== undefined) {
    text = await readFile(values["inputs-file"], "utf8").catch(() => {
      throw new TheoryError("ERR_INPUTS", `cannot read --inputs-file ${values["inputs-file"]}`);
    });
  } else if (values.inputs === "-") text = await readStream(stdin);
  else throw new TheoryError("ERR_INPUTS", '--inputs takes "-" (read stdin)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TheoryError("ERR_INPUTS", "inputs are not valid JSON");
  }
  const inputs = InputsSchema.safeParse(parsed);
  if (!inputs.success || Array.isArray(parsed))
    throw new TheoryError("ERR_INPUTS", "inputs must be a JSON object");
  return inputs.data;
}
