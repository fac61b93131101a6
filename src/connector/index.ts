/** The gatekeeper network connector: RemoteNetwork on GKI/1, and the partner endpoints. */
export { GatekeeperNetwork, GATEKEEPER_CAPABILITIES } from "./gatekeeper-network.js";
export type { GatekeeperNetworkOptions } from "./gatekeeper-network.js";
export { startPartnerEndpoints, partnerApp, AUTH_PATH } from "./partner-endpoints.js";
export type { PartnerEndpoints, PartnerEndpointsOptions } from "./partner-endpoints.js";
export { toBridgeContent, toGatekeeperMessage, toRemoteMessage } from "./content-mapping.js";
export { toRemoteError, connectionProblem } from "./error-mapping.js";
export { deleteAccountData } from "./client-data.js";
export { HostedMedia, MEDIA_PATH_PREFIX } from "./media-host.js";
export type { HostedBlob, HostedMediaOptions } from "./media-host.js";
export { GATEKEEPER_MEDIA_CAPABILITIES, GATEKEEPER_MAX_FILE_BYTES } from "./media-capabilities.js";
