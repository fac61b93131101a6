/** The sandbox's terminal chat for native users (see chat.ts). */
export { runChat, type ChatOptions } from "./chat.js";
export { parseCommand, HELP, type ChatCommand } from "./commands.js";
export { ChatError, type ChatErrorCode } from "./chat-error.js";
export { describeMessage } from "./render.js";
