/** One thing wrong in the configuration: where (a dotted key path) and what is expected. */
export interface ConfigProblem {
  /** Dotted key path, e.g. "gatekeeper.static_key"; "" for the file as a whole. */
  path: string;
  message: string;
}

export type ConfigErrorCode = "unreadable" | "invalid-yaml" | "invalid";

/**
 * The configuration cannot be used. The message is meant for the admin as is, one line per
 * problem: `config.yaml: gatekeeper.static_key: must be 32 bytes of base64 (got 12 bytes)`.
 */
export class ConfigError extends Error {
  constructor(
    readonly code: ConfigErrorCode,
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
    options?: { cause?: unknown },
  ) {
    super(problems.map((p) => formatProblem(source, p)).join("\n"), options);
    this.name = "ConfigError";
  }
}

function formatProblem(source: string, p: ConfigProblem): string {
  return p.path ? `${source}: ${p.path}: ${p.message}` : `${source}: ${p.message}`;
}
