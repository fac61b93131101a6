/**
 * The sandbox logs through an injected logger; without one it is silent.
 * Fields never carry message content, tokens or private keys.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface SandboxLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const noop = (): void => undefined;

export const silentLogger: SandboxLogger = { debug: noop, info: noop, warn: noop, error: noop };
