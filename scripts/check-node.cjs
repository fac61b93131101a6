#!/usr/bin/env node
/*
 * Stops npm ci / test / build / demo / bench at once on a Node.js older than package.json's
 * "engines" (npm only warns about those), with one line saying what to do, instead of a
 * cryptic failure minutes later. CommonJS without dependencies or newer syntax, so that it
 * runs on any old Node.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS, to run on any Node */
"use strict";

var path = require("path");

/** "22.12" from ">=22.12": the version package.json's engines.node asks for. */
function requiredVersion() {
  var pkg = require(path.join(__dirname, "..", "package.json"));
  var match = /(\d+)\.(\d+)/.exec((pkg.engines && pkg.engines.node) || "");
  return match ? [Number(match[1]), Number(match[2])] : [22, 12];
}

/**
 * The one line to print for Node `version` ("20.19.0") at `where` (its path), or null when it
 * is recent enough.
 */
function problem(version, where, required) {
  var parts = String(version).replace(/^v/, "").split(".");
  var major = Number(parts[0]);
  var minor = Number(parts[1]);
  var need = required || requiredVersion();
  if (major > need[0] || (major === need[0] && minor >= need[1])) return null;
  return (
    "matrix-gatekeeper-bridge needs Node.js >= " +
    need[0] +
    "." +
    need[1] +
    " (this is Node " +
    version +
    (where ? " at " + where : "") +
    "). Get Node 24 without root: " +
    "npm install --prefix ~/.cache/node24 node@24 && " +
    'export PATH="$HOME/.cache/node24/node_modules/.bin:$PATH" (then run the command again).'
  );
}

module.exports = { problem: problem, requiredVersion: requiredVersion };

if (require.main === module) {
  var message = problem(process.versions.node, process.execPath);
  if (message) {
    console.error(message);
    process.exit(1);
  }
}
