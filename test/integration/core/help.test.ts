import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS } from "../../../src/config/index.js";
import { CoreFixture } from "./fixture.js";

describe("the bot's help names the space the chats go into", () => {
  let f: CoreFixture;
  beforeAll(async () => {
    f = await CoreFixture.start();
  });
  afterAll(async () => {
    await f.close();
  });

  it("is the default space name unless configured", async () => {
    const mxid = "@spacey:test.local";
    const room = await f.dm(mxid);
    const [greeting] = f.matrix.notices(room);
    const line = `Chats with Gatekeeper users go into your "${CONFIG_DEFAULTS.bridge.space_name}" space.`;
    expect(greeting).toContain(line);
    expect((await f.command(mxid, room, "help")).join("\n")).toContain(line);
  });

  it("is bridge.space_name when it is set", async () => {
    await f.stopCore();
    f.config = { ...f.config, bridge: { ...f.config.bridge, spaceName: "Work chats" } };
    await f.startCore();
    const mxid = "@configured:test.local";
    const room = await f.dm(mxid);
    const line = `Chats with Gatekeeper users go into your "Work chats" space.`;
    expect(f.matrix.notices(room)[0]).toContain(line);
    expect((await f.command(mxid, room, "help")).join("\n")).toContain(line);
  });
});
