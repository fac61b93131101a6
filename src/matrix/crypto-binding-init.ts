import { ensureMatrixCryptoBinding } from "./crypto-binding.js";

ensureMatrixCryptoBinding();
