/**
 * The small logger interface every layer logs through (src/bridge.ts hands in
 * matrix-appservice-bridge's Logger; the sandbox its own). Without one a layer is silent, so
 * tests stay quiet. Fields never carry message content, tokens or keys; phone numbers only at
 * debug level.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const noop = (): void => undefined;

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** One line about an error for a log: name, code and message, never the cause chain (it may hold data). */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code === undefined
      ? `${err.name}: ${err.message}`
      : `${err.name}(${String(code)}): ${err.message}`;
  }
  return String(err);
}
