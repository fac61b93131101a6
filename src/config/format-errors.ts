/**
 * Turns ajv's validation errors into messages an admin can act on: the dotted key path,
 * what is expected there (the schema's `expected` annotation) and what was found, never
 * the value of a secret.
 */
import type { ErrorObject } from "ajv";
import { decodeBase64 } from "./base64.js";
import type { ConfigProblem } from "./errors.js";
import { CONFIG_ENV_VARS } from "./env.js";
import { SECRET_PATHS } from "./schema.js";

const PLAIN_KEY = /^[A-Za-z0-9_]+$/;

/** "gatekeeper.static_key"; keys that are not plain words are quoted: bridge.permissions["example.org"]. */
export function formatPath(segments: readonly string[]): string {
  let out = "";
  for (const s of segments) {
    if (PLAIN_KEY.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The key path as config keys (for SECRET_PATHS and env lookups): plain dots, no quoting. */
function keyOf(segments: readonly string[]): string {
  return segments.join(".");
}

/** A short description of a value found in the file. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  return String(value);
}

function expectedOf(schema: unknown): string | undefined {
  if (typeof schema !== "object" || schema === null || !("expected" in schema)) return undefined;
  return typeof schema.expected === "string" ? schema.expected : undefined;
}

function knownKeys(schema: unknown): string[] {
  if (typeof schema !== "object" || schema === null || !("properties" in schema)) return [];
  const props = schema.properties;
  return typeof props === "object" && props !== null ? Object.keys(props) : [];
}

function envHint(key: string): string {
  const entry = Object.entries(CONFIG_ENV_VARS).find(([, path]) => path === key);
  return entry ? ` (or set ${entry[0]})` : "";
}

/** Labels a path whose value came from an environment variable, so the admin looks there. */
export function labelPath(
  segments: readonly string[],
  fromEnv: ReadonlyMap<string, string>,
): string {
  const path = formatPath(segments);
  const variable = fromEnv.get(keyOf(segments));
  return variable ? `${path} (from ${variable})` : path;
}

function toProblem(
  e: ErrorObject,
  fromEnv: ReadonlyMap<string, string>,
): ConfigProblem | undefined {
  const at = pointerSegments(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties": {
      const key = String(params.additionalProperty);
      const known = knownKeys(e.parentSchema);
      const hint = known.length > 0 ? ` (known keys here: ${known.join(", ")})` : "";
      return { path: formatPath([...at, key]), message: `unknown key${hint}` };
    }
    case "required": {
      const key = String(params.missingProperty);
      return {
        path: formatPath([...at, key]),
        message: `is required${envHint(keyOf([...at, key]))}`,
      };
    }
    case "propertyNames": {
      const key = String(params.propertyName);
      const expected = expectedOf((e.parentSchema as { propertyNames?: unknown }).propertyNames);
      return {
        path: formatPath([...at, key]),
        message: expected
          ? `is not a valid key here: must be ${expected}`
          : "is not a valid key here",
      };
    }
    case "base64Bytes": {
      const bytes = typeof e.data === "string" ? decodeBase64(e.data) : null;
      const got = bytes ? `got ${bytes.length} bytes` : "not valid base64";
      return {
        path: labelPath(at, fromEnv),
        message: `must be ${String(e.schema)} bytes of base64 (${got})`,
      };
    }
    default: {
      // The inner error of a propertyNames check is reported by the propertyNames error.
      if ("propertyName" in e) return undefined;
      const expected = expectedOf(e.parentSchema);
      const what = expected ? `must be ${expected}` : (e.message ?? "is not valid");
      const secret = SECRET_PATHS.has(keyOf(at));
      const got = secret ? "" : ` (got ${describeValue(e.data)})`;
      return { path: labelPath(at, fromEnv), message: `${what}${got}` };
    }
  }
}

/** One problem per key path, in the order ajv found them. */
export function problemsFromAjv(
  errors: readonly ErrorObject[],
  fromEnv: ReadonlyMap<string, string>,
): ConfigProblem[] {
  const byPath = new Map<string, ConfigProblem>();
  for (const e of errors) {
    const p = toProblem(e, fromEnv);
    if (p && !byPath.has(p.path)) byPath.set(p.path, p);
  }
  return [...byPath.values()];
}
