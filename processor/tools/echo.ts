import type { z } from "zod";
import { echoText } from "../../src/contract/tools/index.ts";
import type { Tool } from "./tool.ts";

/** Deterministic, secret-free: writes its input text back. The same in both modes. */
export const echoTool: Tool<z.infer<typeof echoText.inputs.v1>> = {
  definition: echoText,
  secrets: [],
  async run({ params }) {
    return { "text/echo.txt": params.text };
  },
};
