import { describe, expect, it } from "vitest";
import { hasPermission, permissionLevel } from "../../../src/config/index.js";
import type { PermissionLevel } from "../../../src/config/index.js";

function withPerms(permissions: Record<string, PermissionLevel>) {
  return { bridge: { permissions } } as Parameters<typeof permissionLevel>[0];
}

describe("permissionLevel", () => {
  const config = withPerms({
    "*": "user",
    "example.org": "admin",
    "@guest:example.org": "user",
    "@spammer:other.org": "none",
    "matrix.example.net:8448": "user",
  });

  it("prefers the user's own entry over the domain and the wildcard", () => {
    expect(permissionLevel(config, "@guest:example.org")).toBe("user");
    expect(permissionLevel(config, "@spammer:other.org")).toBe("none");
  });

  it("falls back to the domain, then to *", () => {
    expect(permissionLevel(config, "@alice:example.org")).toBe("admin");
    expect(permissionLevel(config, "@bob:other.org")).toBe("user");
    expect(permissionLevel(config, "@carol:matrix.example.net:8448")).toBe("user");
  });

  it("gives none without a matching entry", () => {
    const strict = withPerms({ "example.org": "user" });
    expect(permissionLevel(strict, "@alice:example.org")).toBe("user");
    expect(permissionLevel(strict, "@eve:evil.example")).toBe("none");
    // A subdomain is another server.
    expect(permissionLevel(strict, "@eve:sub.example.org")).toBe("none");
    expect(permissionLevel(strict, "not-a-user-id")).toBe("none");
  });

  it("is not fooled by object property names", () => {
    expect(permissionLevel(withPerms({}), "@x:constructor")).toBe("none");
    expect(permissionLevel(withPerms({}), "@x:__proto__")).toBe("none");
  });

  it("ranks admin above user above none", () => {
    expect(hasPermission("admin", "user")).toBe(true);
    expect(hasPermission("user", "user")).toBe(true);
    expect(hasPermission("user", "admin")).toBe(false);
    expect(hasPermission("none", "user")).toBe(false);
  });
});
