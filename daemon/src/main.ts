/**
 * Process entry: wires argv, stdout/stderr, the environment and signals into the CLI, and sets
 * the exit code. Nothing else in the program touches `process` directly for I/O.
 */
import { runCli } from './cli.js';
import { defaultExec } from './flannel/legacy.js';
import { logToJournal } from './migrate/uninstall-check.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const io = {
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
  env: process.env,
  signals: process,
  stdin: readStdin,
  journal: async (message: string) => void (await logToJournal([message], defaultExec)),
};

runCli(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(
      `ip-masq: fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exitCode = 1;
  },
);
