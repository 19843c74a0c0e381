// Types for churn.mjs, which the reliability tests import.
export declare function kubeProxyRestore(rules: number, round?: number): string;
export declare function startChurn(
  nsArgv: readonly string[],
  options: { rules: number; periodMs?: number },
): { stats: { restores: number; failed: number; lateMs: number }; stop(): Promise<void> };
