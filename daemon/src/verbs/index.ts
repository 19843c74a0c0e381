/** Every verb of the CLI, in the order `ip-masq --help` lists them. */
import { apply } from './apply.js';
import { check } from './check.js';
import { cleanup } from './cleanup.js';
import { doctor } from './doctor.js';
import { explain } from './explain.js';
import { importVerb } from './import.js';
import { render } from './render.js';
import { run } from './run.js';
import { status } from './status.js';
import type { Verb } from './verb.js';

export const VERBS: readonly Verb[] = [
  check,
  render,
  apply,
  status,
  explain,
  doctor,
  importVerb,
  cleanup,
  run,
];
