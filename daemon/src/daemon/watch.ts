/**
 * Watches the config file's DIRECTORY, not the file: editors and `kubectl cp`-style tools
 * replace the file by rename (a file watch then follows the old inode and goes deaf), and the
 * directory may not exist yet, or be deleted and re-created (chokidar reports `addDir`/`add`
 * for a watched directory that appears later; a watched file that never existed stays silent).
 *
 * Every relevant event only says "look again": the loop re-reads the file, so lost or
 * reordered events cannot leave a stale ruleset, and the resync timer is the backstop.
 */
import { basename, dirname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

export interface ConfigWatcher {
  close(): Promise<void>;
}

export interface WatchOptions {
  /** The config file; its directory is watched. */
  path: string;
  /** Something that may have changed the file (write, rename, delete, directory re-created). */
  onChange: (event: string, path: string) => void;
  onError?: (error: Error) => void;
}

/** Starts watching; resolves once the initial scan is done (events after that are not missed). */
export async function watchConfigDir(options: WatchOptions): Promise<ConfigWatcher> {
  const file = resolve(options.path);
  const dir = dirname(file);
  const name = basename(file);
  const watcher: FSWatcher = watch(dir, {
    ignoreInitial: true,
    depth: 0,
    // Rename-replace arrives as one `change` (chokidar's atomic mode); a plain delete is
    // reported after ~100 ms, which also spares us a defaults flap on delete-and-recreate.
    atomic: true,
    // awaitWriteFinish would add its stability threshold (≥ 100 ms) to every reload; a torn
    // read is harmless here (invalid → keep the rules, the next event re-reads).
    awaitWriteFinish: false,
    ignorePermissionErrors: true,
  });
  watcher.on('all', (event, path) => {
    const p = resolve(path);
    // Our file, or the directory itself (created/deleted: the file came or went with it).
    if (p === file || p === dir || basename(p) === name) options.onChange(event, p);
  });
  watcher.on('error', (e) => options.onError?.(e instanceof Error ? e : new Error(String(e))));
  await new Promise<void>((ready) => watcher.once('ready', () => ready()));
  return { close: () => watcher.close() };
}
