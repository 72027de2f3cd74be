/**
 * The stack suite (stack.test.ts: converge, 0 changes, seven drifts repaired,
 * checksum mismatch) on the Ubuntu-26.04-like host: uutils coreutils and sudo-rs,
 * reached as the sudo user `deploy`, as Ubuntu cloud images are.
 */
process.env.PANEL_STACK_HOST = 'ubuntu-26.04-like';
await import('./stack.test.js');
