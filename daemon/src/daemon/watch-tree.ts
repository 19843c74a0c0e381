/**
 * The daemon's watch on the whole config: config.yaml's directory (watch.ts) plus the drop-in
 * directory config.d/ (config/dropins.ts). inotify is not recursive: a file written inside
 * config.d/ produces no event on config.yaml's directory, so config.d/ gets its own fs.watch.
 *
 * config.d/ is watched only while it exists. Its creation, deletion or replacement is an entry
 * change in config.yaml's directory, which the main watcher reports; every such event (and the
 * recheck after every pass) re-arms the drop-in watch when the directory's inode changed. No
 * second watch is ever put on config.yaml's directory itself: measured here, two fs.watch
 * handles on one directory (watch.ts's ancestor mode waiting for config.d) made the daemon miss
 * edits of config.yaml in the hostile-config reliability suite, one handle does not.
 *
 * A drop-in written between `mkdir config.d` and the re-arm is not missed: the mkdir's event
 * has already triggered a pass, and that pass lists config.d/ afresh.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { join, resolve } from 'node:path';
import { dropInDirOf } from '../config/dropins.js';
import { dirInode, watchConfigDir, type ConfigWatcher, type WatchOptions } from './watch.js';

class DropInDirWatcher {
  private watcher: FSWatcher | null = null;
  private ino: bigint | null = null;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly options: WatchOptions,
  ) {}

  /** Watches the directory if it exists (again, if it was replaced); stops if it is gone. */
  recheck(): void {
    if (this.closed) return;
    const ino = dirInode(this.dir);
    if (ino === this.ino && (ino === null || this.watcher !== null)) return;
    this.watcher?.close();
    this.watcher = null;
    this.ino = ino;
    if (ino === null) return;
    try {
      const w = fsWatch(this.dir, { persistent: true, encoding: 'utf8' }, (event, name) => {
        this.options.onChange(event, name ? join(this.dir, name) : this.dir);
        // config.d itself deleted or renamed away: this watch is dead or on the wrong inode.
        this.recheck();
      });
      w.on('error', (e) => {
        this.options.onError?.(e);
        if (this.watcher === w) {
          this.watcher = null;
          w.close();
          this.recheck();
        }
      });
      this.watcher = w;
    } catch (e) {
      // Stay unarmed; the recheck after the next pass tries again.
      this.watcher = null;
      this.options.onError?.(e as Error);
    }
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
  }
}

/** Watches the directory of `options.path` and its `config.d/`; events of both go to onChange. */
export function watchConfigTree(options: WatchOptions): ConfigWatcher {
  const dropIns = new DropInDirWatcher(dropInDirOf(resolve(options.path)), options);
  // Armed first: a drop-in written while the main watch starts is then not missed either.
  dropIns.recheck();
  const main = watchConfigDir({
    ...options,
    onChange: (event, path) => {
      options.onChange(event, path);
      dropIns.recheck();
    },
  });
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
