/** Groups on the gatekeeper's side (docs/protocol.md §19): the `w:g2` iqs and group routing. */
export { handleGroupIq, leaveAllGroups } from "./iq.js";
export { routeGroupChatState, routeGroupMessage, routeGroupReceipt } from "./router.js";
