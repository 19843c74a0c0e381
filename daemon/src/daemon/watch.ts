/**
 * Watches the config file's DIRECTORY, not the file: editors and config-management tools
 * replace the file by rename (a watch on the file follows the old inode and goes deaf), and
 * Kubernetes-style mounts swap a `..data` symlink next to it.
 *
 * Plain inotify (fs.watch on the directory) rather than chokidar (see docs/ARCHITECTURE.md).
 * Measured with chokidar 4.0.3: a watched directory that is deleted and re-created never
 * produces another event; a symlink loop in place of the file is a watcher error (ELOOP) and a
 * dangling symlink produces nothing, rather than an entry event. fs.watch on a directory
 * reports every entry created, deleted, renamed or written, immediately, without stat-ing or
 * following links.
 *
 * Two modes:
 *   - the directory exists: fs.watch on it; any event means "look again";
 *   - it does not: fs.watch on the nearest existing ancestor, waiting for the next path
 *     component to appear; then back to the first mode, reporting a change (the file may
 *     have arrived with its directory).
 * After every event, and in `recheck()` (called after every reconcile pass), the mode is
 * compared with the file system (exists? same inode?) and re-armed when it drifted, so even a
 * lost event cannot leave the daemon deaf for longer than one resync.
 *
 * Every event only says "look again": the loop re-reads the file, so lost, duplicate or
 * reordered events never leave a stale ruleset, and an editor's swap file costs one pass that
 * changes nothing.
 */
import { watch as fsWatch, type FSWatcher, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

export interface ConfigWatcher {
  /** Re-arms if the directory appeared, vanished or was replaced without us noticing. */
  recheck(): void;
  close(): void;
}

export interface WatchOptions {
  /** The config file; its directory is watched. */
  path: string;
  /** Something in the directory changed (or the directory itself came or went). */
  onChange: (event: string, path: string) => void;
  onError?: (error: Error) => void;
}

/** Inode of a directory, or null when `path` is not a directory. */
export function dirInode(path: string): bigint | null {
  try {
    const st = statSync(path, { bigint: true });
    return st.isDirectory() ? st.ino : null;
  } catch {
    return null;
  }
}

/** The nearest existing ancestor directory of `dir` (at worst the root). */
function nearestExistingAncestor(dir: string): string {
  let p = dirname(dir);
  while (dirInode(p) === null && dirname(p) !== p) p = dirname(p);
  return p;
}

class DirectoryWatcher implements ConfigWatcher {
  private readonly dir: string;
  private watcher: FSWatcher | null = null;
  /** What is watched: the directory itself (with its inode) or an ancestor. */
  private mode:
    { kind: 'dir'; ino: bigint } | { kind: 'ancestor'; path: string; ino: bigint | null } | null =
    null;
  private closed = false;

  constructor(private readonly options: WatchOptions) {
    this.dir = dirname(resolve(options.path));
  }

  recheck(): void {
    if (this.closed) return;
    const ino = dirInode(this.dir);
    const m = this.mode;
    const stale =
      m === null ||
      (m.kind === 'dir' && ino !== m.ino) ||
      (m.kind === 'ancestor' &&
        (ino !== null ||
          nearestExistingAncestor(this.dir) !== m.path ||
          dirInode(m.path) !== m.ino));
    if (stale) this.arm();
  }

  close(): void {
    this.closed = true;
    this.disarm();
  }

  private disarm(): void {
    this.watcher?.close();
    this.watcher = null;
    this.mode = null;
  }

  arm(): void {
    if (this.closed) return;
    const wasAncestor = this.mode?.kind === 'ancestor';
    this.disarm();
    const ino = dirInode(this.dir);
    if (ino !== null) {
      // On failure (reported) stay unarmed: the recheck after the next pass tries again.
      if (!this.watch(this.dir, (event, name) => this.onDirEvent(event, name))) return;
      this.mode = { kind: 'dir', ino };
      // Created while we were not looking: look at it now.
      if (wasAncestor) this.options.onChange('addDir', this.dir);
      return;
    }
    const ancestor = nearestExistingAncestor(this.dir);
    // The next component of the path below the ancestor: its appearance is all we wait for.
    const next = this.dir.slice(ancestor.length).split(sep).filter(Boolean)[0];
    if (
      !this.watch(ancestor, (_event, name) =>
        name === null || name === next ? this.arm() : this.recheck(),
      )
    )
      return;
    this.mode = { kind: 'ancestor', path: ancestor, ino: dirInode(ancestor) };
    // It may have appeared between the stat and the watch (then this arms the directory).
    if (dirInode(this.dir) !== null) this.arm();
  }

  private onDirEvent(event: string, name: string | null): void {
    this.options.onChange(event, name ? join(this.dir, name) : this.dir);
    // The directory itself deleted or renamed away: its watch is dead or on the wrong inode.
    this.recheck();
  }

  private watch(path: string, listener: (event: string, name: string | null) => void): boolean {
    try {
      const w = fsWatch(path, { persistent: true, encoding: 'utf8' }, (event, name) =>
        listener(event, name),
      );
      w.on('error', (e) => {
        this.options.onError?.(e);
        if (this.watcher === w) this.arm();
      });
      this.watcher = w;
      return true;
    } catch (e) {
      this.options.onError?.(e as Error);
      return false;
    }
  }
}

/** Starts watching (synchronously armed: changes after this call are not missed). */
export function watchConfigDir(options: WatchOptions): ConfigWatcher {
  const w = new DirectoryWatcher(options);
  w.arm();
  return w;
}
