/**
 * Resource constructors for recipes. Options are documented in ./api.ts;
 * every result is a Resource with a `key` (use it in `restartOn`).
 */
export { file } from './file.js';
export { template, renderTemplate } from './template.js';
export { directory } from './directory.js';
export { apt } from './apt.js';
export { download } from './download.js';
export { archive } from './archive.js';
export { unit, unitKey } from './unit.js';
export { service } from './service.js';
export { sysctl } from './sysctl.js';
export { kernelModule } from './kmod.js';
export { bridge } from './bridge.js';
export { command } from './command.js';
export { secretFile } from './secret-file.js';
export { ufwAllowIn, ufwExpectOpen } from './ufw.js';
export { PRELUDE } from './prelude.js';
export type { FileFacts } from './file.js';
export type { AptFacts } from './apt.js';
export type { ArchiveFacts } from './archive.js';
export type { ServiceFacts } from './service.js';
export type { SysctlFacts } from './sysctl.js';
export type { KernelModuleFacts } from './kmod.js';
export type { BridgeFacts } from './bridge.js';
export type { CommandFacts } from './command.js';
export type { UfwFacts, UfwAllowInOptions, UfwInboundFacts, UfwExpectOpenOptions } from './ufw.js';
export * from './api.js';
export * from './types.js';
