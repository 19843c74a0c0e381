// Replaced at bundle time by scripts/build.mjs (esbuild `define`); tests run unbundled.
declare const IP_MASQ_VERSION: string | undefined;

export const VERSION: string = typeof IP_MASQ_VERSION === 'string' ? IP_MASQ_VERSION : '0.0.0-dev';
