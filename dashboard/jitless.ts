// Imported first (dashboard/main.ts), before any schema exists: zod compiles its object parsers
// with `new Function` unless told not to, and the page's CSP refuses eval (reporting even zod's
// own probe for it), so zod parses without compiling here.
import { config } from "zod";

config({ jitless: true });
