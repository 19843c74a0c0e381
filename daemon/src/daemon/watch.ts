/**
 * Watches the config file's DIRECTORY, not the file: editors and config-management tools
 * replace the file by rename (a watch on the file follows the old inode and goes deaf).
 *
 * The directory itself may not exist yet, or may be deleted and re-created. chokidar 4.0.3
 * reports neither (measured: a watched directory that is missing at start, or removed and
 * re-created, never produces another event), so this watcher has two modes:
 *   - directory exists: chokidar on the directory (depth 0), filtered to our file;
 *   - directory missing: a plain fs.watch on the nearest existing ancestor, waiting for the
 *     next path component to appear; then back to the first mode, reporting a change (the
 *     file may have arrived with its directory).
 * `recheck()` (called after every reconcile pass) re-arms if the mode no longer matches the
 * file system, so even a lost event cannot leave the daemon deaf for longer than one resync.
 *
 * Every event only says "look again": the loop re-reads the file, so a lost or reordered event
 * never leaves a stale ruleset.
 */
import { watch as fsWatch, type FSWatcher as FsWatcher, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

export interface ConfigWatcher {
  /** Re-arms if the directory appeared or vanished without us noticing. */
  recheck(): Promise<void>;
  close(): Promise<void>;
}

export interface WatchOptions {
  /** The config file; its directory is watched. */
  path: string;
  /** Something that may have changed the file (write, rename, delete, directory (re)created). */
  onChange: (event: string, path: string) => void;
  onError?: (error: Error) => void;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The nearest existing ancestor directory of `dir` (at worst the root). */
function nearestExistingAncestor(dir: string): string {
  let p = dirname(dir);
  while (!isDirectory(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

class DirectoryWatcher implements ConfigWatcher {
  private readonly file: string;
  private readonly dir: string;
  private readonly name: string;
  private chokidar: FSWatcher | null = null;
  private ancestor: FsWatcher | null = null;
  private ancestorPath: string | null = null;
  private closed = false;
  private arming: Promise<void> = Promise.resolve();

  constructor(private readonly options: WatchOptions) {
    this.file = resolve(options.path);
    this.dir = dirname(this.file);
    this.name = basename(this.file);
  }

  /** Serialized: two re-arms never race each other. */
  arm(): Promise<void> {
    this.arming = this.arming.then(() => this.armNow()).catch((e: unknown) => this.options.onError?.(e as Error));
    return this.arming;
  }

  recheck(): Promise<void> {
    const inDirMode = this.chokidar !== null;
    const ancestorStale = this.ancestorPath !== null && this.ancestorPath !== nearestExistingAncestor(this.dir);
    if (inDirMode !== isDirectory(this.dir) || ancestorStale) return this.arm();
    return this.arming;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.arming;
    await this.disarm();
  }

  private async disarm(): Promise<void> {
    const c = this.chokidar;
    this.chokidar = null;
    this.ancestor?.close();
    this.ancestor = null;
    this.ancestorPath = null;
    if (c) await c.close();
  }

  private async armNow(): Promise<void> {
    if (this.closed) return;
    const wasWatchingAncestor = this.ancestor !== null;
    await this.disarm();
    if (isDirectory(this.dir)) {
      await this.watchDirectory();
      // Created while we were not looking (or while chokidar was scanning): look at it now.
      if (wasWatchingAncestor) this.options.onChange('addDir', this.dir);
      if (!isDirectory(this.dir)) await this.armNow();
    } else {
      this.watchAncestor(nearestExistingAncestor(this.dir));
      if (isDirectory(this.dir)) await this.armNow();
    }
  }

  private async watchDirectory(): Promise<void> {
    const w = watch(this.dir, {
      ignoreInitial: true,
      depth: 0,
      // Rename-replace arrives as one `change` (chokidar's atomic mode); a plain delete is
      // reported after ~100 ms, which also spares a defaults flap on delete-and-recreate.
      atomic: true,
      // awaitWriteFinish would add its stability threshold (≥ 100 ms) to every reload; a torn
      // read is harmless here (invalid → keep the rules, the next event re-reads).
      awaitWriteFinish: false,
      ignorePermissionErrors: true,
    });
    this.chokidar = w;
    w.on('all', (event, path) => {
      const p = resolve(path);
      if (p === this.dir && event === 'unlinkDir') {
        // Gone: chokidar would never report its re-creation.
        this.options.onChange(event, p);
        void this.arm();
        return;
      }
      if (p === this.file || (dirname(p) === this.dir && basename(p) === this.name)) this.options.onChange(event, p);
    });
    w.on('error', (e) => this.options.onError?.(e instanceof Error ? e : new Error(String(e))));
    await new Promise<void>((ready) => w.once('ready', () => ready()));
  }

  private watchAncestor(ancestor: string): void {
    // The next component of the path below the ancestor: its appearance is all we wait for.
    const rest = this.dir.slice(ancestor.length).split(sep).filter(Boolean);
    const next = rest[0];
    try {
      const w = fsWatch(ancestor, { persistent: true }, (_event, filename) => {
        if (filename === null || filename === undefined || String(filename) === next) void this.arm();
      });
      w.on('error', () => void this.arm());
      this.ancestor = w;
      this.ancestorPath = ancestor;
    } catch (e) {
      this.options.onError?.(new Error(`cannot watch ${ancestor} for ${join(ancestor, next ?? '')}: ${(e as Error).message}`));
    }
  }
}

/** Starts watching; resolves once armed (changes after that are not missed). */
export async function watchConfigDir(options: WatchOptions): Promise<ConfigWatcher> {
  const w = new DirectoryWatcher(options);
  await w.arm();
  return w;
}
