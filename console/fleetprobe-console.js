#!/usr/bin/env node
// The npm bin of the workspace: the compiled entry point lives in the root's dist/ (one tsc
// build for agent and console).
import '../dist/console/bin/fleetprobe-console.js';
