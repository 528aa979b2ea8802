import { z } from "zod";
import { defineTool } from "./definition.ts";

/** echo/text@1: writes its input text back, deterministic and secret-free. */
export const echoText = defineTool({
  ref: "echo/text@1",
  inputs: {
    v1: z.strictObject({ text: z.string().max(1024 * 1024) }),
  },
  outputs: ["text/echo.txt"],
});
