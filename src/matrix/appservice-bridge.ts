/**
 * The one place the project imports matrix-appservice-bridge from. ES modules evaluate their
 * imports in order, so the crypto binding check runs before matrix-bot-sdk is loaded.
 */
import "./crypto-binding-init.js";

export * from "matrix-appservice-bridge";
