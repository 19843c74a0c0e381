/**
 * The daemon's watch on the whole config: config.yaml's directory (watch.ts) plus the drop-in
 * directory config.d/ (config/dropins.ts). inotify is not recursive: a file written inside
 * config.d/ produces no event on config.yaml's directory, so config.d/ gets its own
 * DirectoryWatcher, with the same fallback to the nearest existing ancestor while it does not
 * exist (it usually does not, until the first drop-in is installed).
 */
import { join } from 'node:path';
import { dropInDirOf } from '../config/dropins.js';
import { watchConfigDir, type ConfigWatcher, type WatchOptions } from './watch.js';

/** Watches the directory of `options.path` and its `config.d/`; events of both go to onChange. */
export function watchConfigTree(options: WatchOptions): ConfigWatcher {
  const main = watchConfigDir(options);
  // watchConfigDir watches the directory of the path it is given: name a file inside config.d.
  const dropIns = watchConfigDir({ ...options, path: join(dropInDirOf(options.path), 'drop-in') });
  return {
    recheck() {
      main.recheck();
      dropIns.recheck();
    },
    close() {
      main.close();
      dropIns.close();
    },
  };
}
