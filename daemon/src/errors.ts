/**
 * One error type for the whole program: a stable machine `code`, the process exit code an
 * operator sees, and the original failure as `cause`. Call sites classify with `code`, never
 * by matching message text.
 */

/** The one exit-code table, shared by every verb (documented in --help and the README). */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  PERMISSION: 4,
  NFT_UNUSABLE: 5,
  CONFIG_INVALID: 6,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorCode =
  | 'USAGE'
  | 'CONFIG_INVALID'
  | 'CONFIG_UNREADABLE'
  | 'NFT_NOT_FOUND'
  | 'NFT_NO_JSON'
  | 'NFT_PERMISSION'
  | 'NFT_FAILED'
  | 'NFT_TIMEOUT'
  | 'NFT_STAGE_FAILED'
  | 'VERIFY_FAILED'
  | 'STATE_FAILED';

const exitCodeFor: Record<ErrorCode, ExitCodeValue> = {
  USAGE: ExitCode.USAGE,
  CONFIG_INVALID: ExitCode.CONFIG_INVALID,
  CONFIG_UNREADABLE: ExitCode.CONFIG_INVALID,
  NFT_NOT_FOUND: ExitCode.NFT_UNUSABLE,
  NFT_NO_JSON: ExitCode.NFT_UNUSABLE,
  NFT_PERMISSION: ExitCode.PERMISSION,
  NFT_FAILED: ExitCode.FAILURE,
  NFT_TIMEOUT: ExitCode.FAILURE,
  NFT_STAGE_FAILED: ExitCode.FAILURE,
  VERIFY_FAILED: ExitCode.FAILURE,
  STATE_FAILED: ExitCode.FAILURE,
};

export class IpMasqError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IpMasqError';
    this.code = code;
    this.exitCode = exitCodeFor[code];
  }
}

/** One problem in a config file, located for the operator. */
export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole (unreadable, too large). */
  line: number;
  col: number;
  /** Field path such as `nonMasqueradeCIDRs[1]`; empty for file-level problems. */
  path: string;
  message: string;
}

/** `config.yaml:4:5: nonMasqueradeCIDRs[1]: "10.1.2.3/8" is not aligned …` */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.col}` : issue.file;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** Every problem of a file at once, one line each. */
export class ConfigError extends IpMasqError {
  readonly issues: readonly ConfigIssue[];

  constructor(
    issues: readonly ConfigIssue[],
    code: 'CONFIG_INVALID' | 'CONFIG_UNREADABLE' = 'CONFIG_INVALID',
    options?: { cause?: unknown },
  ) {
    super(code, issues.map(formatConfigIssue).join('\n'), options);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** nft ran and failed (or could not run): carries what an operator needs to see why. */
export class NftError extends IpMasqError {
  readonly argv: readonly string[];
  readonly exitStatus: number | null;
  readonly stderr: string;
  /**
   * The JSON batch nft was given, for debug logs: nft's JSON errors carry no location
   * (`internal:0:0-0`), so the batch is the only way to see what it refused.
   */
  readonly input: string | undefined;

  constructor(
    code:
      | 'NFT_NOT_FOUND'
      | 'NFT_NO_JSON'
      | 'NFT_PERMISSION'
      | 'NFT_FAILED'
      | 'NFT_TIMEOUT'
      | 'NFT_STAGE_FAILED',
    message: string,
    details: {
      argv: readonly string[];
      exitStatus: number | null;
      stderr: string;
      input?: string;
      cause?: unknown;
    },
  ) {
    super(code, message, { cause: details.cause });
    this.name = 'NftError';
    this.argv = details.argv;
    this.exitStatus = details.exitStatus;
    this.stderr = details.stderr;
    this.input = details.input;
  }

  /** nft's kernel error for a missing object: the table, chain or handle is not there. */
  get isNotFound(): boolean {
    return /No such file or directory/.test(this.stderr);
  }
}

export function isIpMasqError(e: unknown): e is IpMasqError {
  return e instanceof IpMasqError;
}
