/** Runs the CLI from source (for unit tests that need a real process without a build). */
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
