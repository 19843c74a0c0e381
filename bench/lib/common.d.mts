// Types for the parts of common.mjs that TypeScript tests import.
export declare const REPO: string;
export declare function cidrList(n: number, offset?: number): string[];
export declare function stats(xs: readonly number[]): { n: number; min: number; p50: number; p95: number; p99: number; max: number };
