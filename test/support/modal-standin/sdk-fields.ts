import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import protobuf from "protobufjs";

/** One field as a codec writes it: number and wire type (0 varint, 1 i64, 2 length-delimited, 5 i32). */
export interface WireField {
  number: number;
  wireType: number;
}

/** The installed SDK's bundle, where its generated (ts-proto) codecs live. */
function sdkBundle(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(join(dirname(require.resolve("modal")), "index.js"), "utf8");
}

/**
 * The fields each named message's generated `encode` writes, keyed by camelCase field name, read
 * from the installed SDK's source: every `writer.uint32(TAG)` belongs to the `message.<field>` the
 * guard before it names.
 */
export function sdkWireFields(messages: string[]): Record<string, Record<string, WireField>> {
  const source = sdkBundle();
  const result: Record<string, Record<string, WireField>> = {};
  for (const name of messages) {
    const start = source.indexOf(`\nvar ${name} = {\n  encode(`);
    if (start < 0) throw new Error(`the installed modal SDK has no codec named ${name}`);
    const end = source.indexOf("\n  decode(", start);
    const body = source.slice(start, end);
    const fields: Record<string, WireField> = {};
    for (const match of body.matchAll(/writer\.uint32\((\d+)\)/g)) {
      const before = body.slice(0, match.index);
      const field = [...before.matchAll(/message\.(\w+)/g)].at(-1)?.[1];
      if (!field) continue;
      const tag = Number(match[1]);
      fields[field] ??= { number: tag >>> 3, wireType: tag & 7 };
    }
    result[name] = fields;
  }
  return result;
}

/** The same view of the project's modal.proto (what the stand-in will read and write). */
export function protoWireFields(root: protobuf.Root): Record<string, Record<string, WireField>> {
  const namespace = root.lookup("modal.client") as protobuf.Namespace;
  const result: Record<string, Record<string, WireField>> = {};
  for (const type of namespace.nestedArray) {
    if (!(type instanceof protobuf.Type)) continue;
    const fields: Record<string, WireField> = {};
    for (const field of type.fieldsArray) {
      const scalar = (protobuf.types.basic as Record<string, number | undefined>)[field.type];
      const packed = field.repeated && scalar !== undefined && scalar !== 2;
      const wireType =
        field instanceof protobuf.MapField || field.resolvedType || packed || scalar === undefined
          ? 2
          : scalar;
      fields[field.name] = { number: field.id, wireType };
    }
    result[type.name] = fields;
  }
  return result;
}

/** Every field of the project's proto whose number or wire type differs from the installed SDK's codec. */
export function wireDrift(root: protobuf.Root): string[] {
  const ours = protoWireFields(root);
  const theirs = sdkWireFields(Object.keys(ours));
  const drift: string[] = [];
  for (const [message, fields] of Object.entries(ours)) {
    for (const [field, wire] of Object.entries(fields)) {
      const sdk = theirs[message]?.[field];
      if (!sdk) drift.push(`${message}.${field}: not written by the SDK`);
      else if (sdk.number !== wire.number || sdk.wireType !== wire.wireType)
        drift.push(
          `${message}.${field}: proto ${wire.number}/${wire.wireType}, SDK ${sdk.number}/${sdk.wireType}`,
        );
    }
  }
  return drift;
}
