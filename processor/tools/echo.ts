import { z } from "zod";
import type { Tool } from "./tool.ts";

const EchoInputsSchema = z.strictObject({
  params: z.strictObject({ text: z.string().max(1024 * 1024) }),
});

/** Deterministic, secret-free: writes its input text back. The same in both modes. */
export const echoTool: Tool<z.infer<typeof EchoInputsSchema>> = {
  ref: "echo/text@1",
  inputs: EchoInputsSchema,
  outputs: ["text/echo.txt"],
  secrets: [],
  async run({ inputs }) {
    return { "text/echo.txt": inputs.params.text };
  },
};
