// Why a target is missed (or what to know about one that is met), from profiles of this
// machine. Keyed by the target ids in report.mjs; printed only when that case occurs.
export const FINDINGS = {};
