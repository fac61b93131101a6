/**
 * Injected rate limits: the next N requests matching a rule get 429 M_LIMIT_EXCEEDED, as a real
 * homeserver answers a client that went too fast. Application services registered with
 * `rate_limited: false` are exempt, as on Synapse, unless the rule says otherwise.
 */
export interface RateLimitRule {
  /** Matched against the request path (no query string). */
  path?: RegExp | string;
  method?: string;
  /** The (possibly masqueraded) user making the request. */
  userId?: string;
  /** How many matching requests to refuse (default 1). */
  count?: number;
  retryAfterMs?: number;
  /** Send the Retry-After header (whole seconds) too, as Synapse does (default true). */
  retryAfterHeader?: boolean;
  /** Limit even application services whose registration says `rate_limited: false`. */
  includeExemptAppServices?: boolean;
  /**
   * Instead of a 429, drop the connection without an answer (ECONNRESET at the client), as
   * a server does that closes a kept-alive connection just as it is reused.
   */
  reset?: boolean;
}

export interface RateLimitHandle {
  /** When each refused request arrived (ms since epoch). */
  readonly refusedAt: readonly number[];
  /** Requests still to refuse. */
  readonly remaining: number;
  cancel(): void;
}

interface ActiveRule {
  rule: RateLimitRule;
  remaining: number;
  refusedAt: number[];
}

export interface RateLimitDecision {
  retryAfterMs: number;
  header: boolean;
  reset: boolean;
}

export class RateLimiter {
  private rules: ActiveRule[] = [];

  add(rule: RateLimitRule): RateLimitHandle {
    const active: ActiveRule = { rule, remaining: rule.count ?? 1, refusedAt: [] };
    this.rules.push(active);
    return {
      get refusedAt() {
        return active.refusedAt;
      },
      get remaining() {
        return active.remaining;
      },
      cancel: () => {
        active.remaining = 0;
      },
    };
  }

  check(req: {
    method: string;
    path: string;
    userId?: string;
    exemptAppService: boolean;
  }): RateLimitDecision | undefined {
    for (const a of this.rules) {
      const r = a.rule;
      if (a.remaining <= 0) continue;
      if (req.exemptAppService && !r.includeExemptAppServices) continue;
      if (r.method && r.method.toUpperCase() !== req.method) continue;
      if (r.userId && r.userId !== req.userId) continue;
      if (r.path !== undefined) {
        const ok = typeof r.path === "string" ? req.path.includes(r.path) : r.path.test(req.path);
        if (!ok) continue;
      }
      a.remaining -= 1;
      a.refusedAt.push(Date.now());
      return {
        retryAfterMs: r.retryAfterMs ?? 1000,
        header: r.retryAfterHeader !== false,
        reset: r.reset === true,
      };
    }
    this.rules = this.rules.filter((a) => a.remaining > 0);
    return undefined;
  }
}
