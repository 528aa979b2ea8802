import { RefSchema } from "../../src/contract/ref.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { type CommandInput, defineCommand } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { controlPlaneClientFor } from "../control-plane/client.ts";

async function list(_input: CommandInput, context: CliContext): Promise<CommandResult> {
  const tools = await controlPlaneClientFor(context).listTools();
  // The short view: what a run request needs to name (the full schemas: theory tools show REF).
  return {
    value: {
      tools: tools.map((tool) => ({
        ref: tool.ref,
        schemas: tool.schemas,
        outputs: tool.outputs,
        platforms: tool.platforms.map((lane) => lane.platform),
      })),
    },
  };
}

async function show({ positionals }: CommandInput, context: CliContext): Promise<CommandResult> {
  const ref = positionals[0] as string;
  if (!RefSchema.safeParse(ref).success)
    throw new TheoryError("ERR_INPUTS", `${JSON.stringify(ref)} is not a ref (namespace/name@version)`);
  return { value: await controlPlaneClientFor(context).getTool(ref) };
}

export const command = defineCommand({
  name: "tools",
  summary: "list|show the tools the control plane can run, with their input schemas",
  notes: "Control plane from --control-plane URL or THEORY_CONTROL_PLANE, token from THEORY_TOKEN.",
  subcommands: [
    defineCommand({
      name: "list",
      summary: "every tool: ref, input schema versions, outputs, pinned platforms",
      run: list,
    }),
    defineCommand({
      name: "show",
      summary: "one tool: its inputs' JSON Schema, outputs, resources, timeout, secrets, pins",
      positionals: [{ name: "REF", description: "the tool's ref, e.g. llm/litellm@1" }],
      run: show,
    }),
  ],
});
