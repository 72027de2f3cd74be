#!/usr/bin/env node
// Runs the compiled CLI (npm run build); see README.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
