/**
 * Reads config.yaml: YAML → environment overrides → JSON Schema (ajv) → semantic checks →
 * defaults. Everything wrong is reported at once, each with its key path.
 */
import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { ConfigError } from "./errors.js";
import type { ConfigProblem } from "./errors.js";
import { resolveConfig, resolveRegistrationConfig } from "./defaults.js";
import { applyEnv } from "./env.js";
import type { Env } from "./env.js";
import { describeValue, problemsFromAjv } from "./format-errors.js";
import { checkRaw, checkRegistrationConfig, checkResolved } from "./semantics.js";
import type { Config, RegistrationConfig } from "./types.js";
import { validateRawConfig as validate, validateRegistrationConfig } from "./validator.js";

/** Reads, checks and completes the configuration file at `path`. Throws ConfigError. */
export function loadConfig(path: string, env: Env = process.env): Config {
  return parseConfigText(readText(path), path, env);
}

/** Like loadConfig, for YAML text already in hand; `source` names it in messages. */
export function parseConfigText(text: string, source: string, env: Env = process.env): Config {
  return parseConfig(parseYaml(text, source), source, env);
}

/**
 * Reads only what the appservice registration is made from (homeserver, appservice,
 * bridge.username_template), so that the registration can be generated before the rest of
 * the file (the gatekeeper section, its secret) is filled in. Throws ConfigError.
 */
export function loadRegistrationConfig(path: string): RegistrationConfig {
  const raw = parseYaml(readText(path), path);
  checkMapping(raw, path);
  if (!validateRegistrationConfig(raw)) {
    const errors = validateRegistrationConfig.errors ?? [];
    throw new ConfigError("invalid", path, problemsFromAjv(errors, new Map()));
  }
  const config = resolveRegistrationConfig(raw);
  fail(path, checkRegistrationConfig(config));
  return config;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError("unreadable", path, [{ path: "", message: fileErrorMessage(err) }], {
      cause: err,
    });
  }
}

function parseYaml(text: string, source: string): unknown {
  try {
    return yaml.load(text, { filename: source });
  } catch (err) {
    throw new ConfigError("invalid-yaml", source, [{ path: "", message: fileErrorMessage(err) }], {
      cause: err,
    });
  }
}

/** What went wrong reading or parsing a YAML file, for a message that names the file. */
export function fileErrorMessage(err: unknown): string {
  if (isYamlError(err)) {
    return `is not valid YAML: ${err.reason} (line ${err.mark.line + 1}, column ${err.mark.column + 1})`;
  }
  if (err instanceof Error && "code" in err && typeof err.code === "string") {
    return `cannot read the file (${err.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}

// Not `instanceof`: Cli's js-yaml (CommonJS) and ours (ESM) are separate module instances.
function isYamlError(
  err: unknown,
): err is { reason: string; mark: { line: number; column: number } } {
  if (!(err instanceof Error) || err.name !== "YAMLException") return false;
  const { reason, mark } = err as Error & {
    reason?: unknown;
    mark?: { line?: unknown; column?: unknown };
  };
  return (
    typeof reason === "string" && typeof mark?.line === "number" && typeof mark.column === "number"
  );
}

/** Checks and completes an already parsed configuration (e.g. the one Cli read). */
export function parseConfig(raw: unknown, source: string, env: Env = process.env): Config {
  checkMapping(raw, source);
  const applied = applyEnv(raw, env);
  if (!validate(applied.raw)) {
    throw new ConfigError(
      "invalid",
      source,
      problemsFromAjv(validate.errors ?? [], applied.fromEnv),
    );
  }
  fail(source, labelled(checkRaw(applied.raw), applied.fromEnv));
  const config = resolveConfig(applied.raw);
  fail(source, labelled(checkResolved(config), applied.fromEnv));
  return config;
}

/** Names the variable a problem's value came from, as the schema's messages do. */
function labelled(problems: ConfigProblem[], fromEnv: ReadonlyMap<string, string>) {
  return problems.map((p) => {
    const variable = fromEnv.get(p.path);
    return variable ? { ...p, path: `${p.path} (from ${variable})` } : p;
  });
}

function checkMapping(raw: unknown, source: string): asserts raw is object {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    const found = raw === undefined ? "an empty file" : describeValue(raw);
    throw new ConfigError("invalid", source, [
      { path: "", message: `must be a YAML mapping of sections (got ${found})` },
    ]);
  }
}

function fail(source: string, problems: ConfigProblem[]): void {
  if (problems.length > 0) throw new ConfigError("invalid", source, problems);
}
