/**
 * An esbuild plugin: zod's locales namespace (`z.locales`) with English
 * only. zod's classic API re-exports all of its ~60 locales, 370 KB of
 * source that Node parsed at every start of panel; panel configures none
 * (zod sets English itself: `config(en())` in its classic API), so the other
 * locales were only weight. Used by both bundles (scripts/bundle.mjs,
 * scripts/build-binary.mjs).
 */
import { dirname } from 'node:path';

export const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    // The imports of the locales' index: zod's core and its classic API re-export it.
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer) ? { path: 'english', namespace: 'zod-english-only', pluginData: dirname(args.importer) } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: "export { default as en } from '../locales/en.js';\n",
      loader: 'js',
      resolveDir: args.pluginData,
    }));
  },
};
