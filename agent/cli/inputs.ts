import { readFile } from "node:fs/promises";
import { type Inputs, InputsEnvelopeSchema } from "../../src/contract/tools/index.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { MAX_JSON_DEPTH, parseJson } from "../../src/core/json.ts";
import { describeIssues } from "../../src/core/validation.ts";
import type { OptionSpecs } from "./command.ts";

/** The run's inputs, a JSON object: a command declares these with `oneOf: INPUT_FLAGS`. */
export const INPUT_OPTIONS = {
  "inputs-json": { type: "string", placeholder: "JSON", description: "the inputs inline" },
  "inputs-file": { type: "string", placeholder: "PATH", description: "the inputs from a file" },
  inputs: { type: "string", placeholder: "-", description: "the inputs from stdin" },
} as const satisfies OptionSpecs;

export const INPUT_FLAGS = ["inputs-json", "inputs-file", "inputs"] as const;

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/** `--inputs-json JSON` | `--inputs-file PATH` | `--inputs -` (stdin), one given (the parser checks): a JSON object. */
export async function readInputs(
  values: { "inputs-json"?: string; "inputs-file"?: string; inputs?: string },
  stdin: NodeJS.ReadableStream,
): Promise<Inputs> {
  let text: string;
  if (values["inputs-json"] !== undefined) text = values["inputs-json"];
  else if (values["inputs-file"] !== undefined) {
    text = await readFile(values["inputs-file"], "utf8").catch(() => {
      throw new TheoryError("ERR_INPUTS", `cannot read --inputs-file ${values["inputs-file"]}`);
    });
  } else if (values.inputs === "-") text = await readStream(stdin);
  else throw new TheoryError("ERR_INPUTS", '--inputs takes "-" (read stdin)');
  // Inputs travel one level down in the run request, which may nest MAX_JSON_DEPTH levels.
  const parsed = parseJson(text, "inputs", { maxDepth: MAX_JSON_DEPTH - 1 });
  // The envelope here; the tool's own schema where the run is planned (API or direct run).
  const inputs = InputsEnvelopeSchema.safeParse(parsed);
  if (!inputs.success)
    throw new TheoryError(
      "ERR_INPUTS",
      `${describeIssues(inputs.error, ["inputs"])} (inputs are {"schema":"v1","params":{…}})`,
    );
  return inputs.data;
}
