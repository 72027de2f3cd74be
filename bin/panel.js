#!/usr/bin/env node
// Runs the built CLI (npm run build: tsc, then scripts/bundle.mjs); see README.
import { main } from '../dist/bundle/main.js';

process.exitCode = await main(process.argv.slice(2));
