/**
 * A typed event hub whose handlers may be async. `emit` runs every handler (in the order
 * they were added), awaits them, and fails if any failed: the client acks a stanza to the
 * gatekeeper only after `emit` resolved, so "handled" means every handler finished.
 */
export type EventHandler<T> = (payload: T) => void | Promise<void>;

/** One or more handlers failed; `errors` holds what each threw. */
export class HandlerError extends Error {
  override readonly name = "HandlerError";
  constructor(
    readonly event: string,
    readonly errors: readonly unknown[],
  ) {
    super(
      `${errors.length} handler(s) of "${event}" failed: ${errors
        .map((e) => (e instanceof Error ? e.message : String(e)))
        .join("; ")}`,
      { cause: errors[0] },
    );
  }
}

/**
 * The client is stopping: the event was not handed to the application, so its stanza stays
 * unacked (and its inbox row pending) and comes again on the next connection, this process's
 * or another's. Once stop() was called nothing more may count as handled: the application may
 * already have let go of the client (another process holds its login now).
 */
export class ClientStoppedError extends Error {
  override readonly name = "ClientStoppedError";
  constructor(readonly event: string) {
    super(`the client is stopping: "${event}" was not handed over`);
  }
}

export class EventHub<Events extends object> {
  private readonly handlers = new Map<keyof Events, EventHandler<never>[]>();

  /** Adds a handler; returns a function that removes it. */
  on<K extends keyof Events>(event: K, handler: EventHandler<Events[K]>): () => void {
    const list = this.handlers.get(event) ?? [];
    list.push(handler as EventHandler<never>);
    this.handlers.set(event, list);
    return () => this.off(event, handler);
  }

  /** Adds a handler that runs for the next event only. */
  once<K extends keyof Events>(event: K, handler: EventHandler<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      return handler(payload);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, handler: EventHandler<Events[K]>): void {
    const list = this.handlers.get(event);
    if (!list) return;
    const i = list.indexOf(handler as EventHandler<never>);
    if (i >= 0) list.splice(i, 1);
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.handlers.get(event)?.length ?? 0;
  }

  /**
   * Runs every handler of `event` one after the other and awaits each. All handlers run
   * even if one fails; then, if any failed, rejects with a HandlerError.
   */
  async emit<K extends keyof Events>(event: K, payload: Events[K]): Promise<void> {
    // Copy: a handler may remove itself (once) or add others while we iterate.
    const list = [...(this.handlers.get(event) ?? [])] as EventHandler<Events[K]>[];
    const errors: unknown[] = [];
    for (const handler of list) {
      try {
        await handler(payload);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new HandlerError(String(event), errors);
  }

  /** Like emit, but failures are swallowed (for events that are only informative). */
  async emitQuietly<K extends keyof Events>(event: K, payload: Events[K]): Promise<void> {
    try {
      await this.emit(event, payload);
    } catch {
      // Informative events must not disturb the protocol flow.
    }
  }

  /** Resolves with the next payload of `event` (for tests and simple callers). */
  next<K extends keyof Events>(event: K, timeoutMs?: number): Promise<Events[K]> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const off = this.once(event, (payload) => {
        if (timer) clearTimeout(timer);
        resolve(payload);
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          off();
          reject(new Error(`no "${String(event)}" event within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }
}
