/**
 * A Kubernetes manifest pasted where a config file belongs (the ip-masq-agent ConfigMap, or the
 * whole `kubectl get cm,ds … -o yaml` output) fails with one "unknown key" per top-level field
 * and no way forward. This turns that into one issue that names the way: `ip-masq import`.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { isKubernetesObject } from './agent-input.js';

/** The kind of the Kubernetes object(s) in `text` ("ConfigMap", "List", …), or null. */
export function manifestKind(text: string): string | null {
  try {
    for (const doc of parseAllDocuments(text, { uniqueKeys: false })) {
      const v: unknown = doc.toJS({ maxAliasCount: 100 });
      if (isKubernetesObject(v)) return String(v['kind']);
    }
  } catch {
    // Not YAML at all: the config parser already says so.
  }
  return null;
}

/**
 * `e` with, for each file whose text is a Kubernetes manifest, one leading issue saying to
 * convert it with `ip-masq import`; `e` itself when no file is one.
 */
export async function withImportHint(e: ConfigError): Promise<ConfigError> {
  const suspects = [...new Set(e.issues.map((i) => i.file))];
  const hints: ConfigIssue[] = [];
  for (const file of suspects) {
    const kind = manifestKind(await readFile(file, 'utf8').catch(() => ''));
    if (kind === null) continue;
    hints.push({
      file,
      line: 1,
      col: 1,
      path: '',
      message: `this is a Kubernetes ${kind} manifest, not an ip-masq config; convert it: ip-masq import ${file} > config.yaml (it maps the agent's config and DaemonSet flags and names what it cannot carry over)`,
    });
  }
  if (hints.length === 0) return e;
  return new ConfigError([...hints, ...e.issues], e.code as 'CONFIG_INVALID', { cause: e });
}
