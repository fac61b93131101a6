/**
 * The client logs through an injected logger; without one it is silent. Fields never
 * carry message content, tokens or keys; phone numbers only at debug level.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface ClientLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const noop = (): void => undefined;

export const silentLogger: ClientLogger = { debug: noop, info: noop, warn: noop, error: noop };

/** A one-line description of an error for logs (never its cause chain, which may hold data). */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code === undefined
      ? `${err.name}: ${err.message}`
      : `${err.name}(${String(code)}): ${err.message}`;
  }
  return String(err);
}
