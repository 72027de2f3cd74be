/**
 * What the single executable (`npm run build:binary`, scripts/build-binary.mjs)
 * carries inside itself. Its bundle replaces this module with one that holds
 * the templates, their precompiled form and the version, and lazy-cjs.ts with
 * one that requires the CommonJS packages from the bundle. Run from a checkout
 * or the npm package nothing is embedded: panel reads the package's files.
 */
/** dist/templates.compiled.cjs: each template's precompiled spec and the sha256 of its source. */
export type Precompiled = Readonly<Record<string, { readonly sha256: string; readonly spec: TemplateSpecification }>>;
type TemplateSpecification = Parameters<typeof import('handlebars').template>[0];

export interface Embedded {
  readonly version: string;
  /** templates/*.hbs, by file name. */
  readonly templates: Readonly<Record<string, string>>;
  readonly precompiled: () => Precompiled;
  /** The prelude's shell files (src/resources/prelude.ts), by path under src/resources/. */
  readonly shell: Readonly<Record<string, string>>;
}

export const embedded: Embedded | undefined = undefined;
