// Types for ip-masq-agent.mjs (the benchmark baseline), so TypeScript tests can import it.
export declare const CHAIN: 'IP-MASQ-AGENT';
export declare const JUMP_ARGS: readonly string[];
export declare function restoreText(cidrs: readonly string[], options?: { masqLinkLocal?: boolean }): string;
export interface SyncTimes {
  ensureChainMs: number;
  ensureRuleMs: number;
  restoreMs: number;
  totalMs: number;
}
export declare function sync(cidrs: readonly string[], options?: { prefix?: readonly string[]; masqLinkLocal?: boolean }): Promise<SyncTimes>;
