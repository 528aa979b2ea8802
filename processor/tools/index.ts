import { echoTool } from "./echo.ts";
import { litellmTool } from "./litellm.ts";
import type { Tool } from "./tool.ts";

/** Every tool this image carries; TOOL_REF picks the one a container serves. */
export const TOOLS: readonly Tool[] = [echoTool as Tool, litellmTool as Tool];
