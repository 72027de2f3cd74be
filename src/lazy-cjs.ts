/**
 * CommonJS packages panel loads on first use, not at start-up (`--help`,
 * `recipes` and a converged run skip them). One module so that the single
 * executable's bundle (scripts/build-binary.mjs) can swap it for one that
 * requires the same packages from inside the bundle.
 */
import { createRequire } from 'node:module';
import type { Precompiled } from './embedded.js';

const requireCjs = createRequire(import.meta.url);

export const loadHandlebars = (): typeof import('handlebars') => requireCjs('handlebars') as typeof import('handlebars');
export const loadHandlebarsRuntime = (): typeof import('handlebars') => requireCjs('handlebars/runtime') as typeof import('handlebars');
export const loadDiff = (): typeof import('diff') => requireCjs('diff') as typeof import('diff');
/** The build's precompiled templates (scripts/precompile-templates.mjs); throws when not built. */
export const loadPrecompiled = (file: string): Precompiled => requireCjs(file) as Precompiled;
