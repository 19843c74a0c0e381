/**
 * What an operator has of an ip-masq-agent deployment → its parts: the config bodies (the
 * ConfigMap's `config` key, or a bare file) and the agent container's command line.
 *
 * Accepted: the agent's config body (YAML or JSON), its ConfigMap manifest, or what
 * `kubectl get cm,ds -n kube-system ip-masq-agent -o yaml` prints (a `List`, or several YAML
 * documents), including the DaemonSet. Everything recognised but not used is named in `skipped`,
 * so the caller can say so on stderr.
 */
import { parseAllDocuments } from 'yaml';
import { ImportError } from './agent-config.js';

/** One config body and where it came from (for messages). */
export interface AgentConfigBody {
  text: string;
  source: string;
}

export interface AgentInput {
  bodies: AgentConfigBody[];
  /** The agent container's args (command after the binary, then args), per DaemonSet. */
  commandLines: Array<{ args: string[]; source: string }>;
  /** Things seen and not carried over, one phrase each. */
  skipped: string[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function nameOf(o: Obj): string {
  const meta = isObj(o['metadata']) ? o['metadata'] : {};
  const ns = typeof meta['namespace'] === 'string' ? `${meta['namespace']}/` : '';
  return `${String(o['kind'])} ${ns}${typeof meta['name'] === 'string' ? meta['name'] : '(unnamed)'}`;
}

/** Is this a Kubernetes object (a manifest) rather than an agent config body? */
export function isKubernetesObject(v: unknown): v is Obj {
  return isObj(v) && typeof v['apiVersion'] === 'string' && typeof v['kind'] === 'string';
}

/** The ConfigMap key the DaemonSet mounts as /etc/config/ip-masq-agent (upstream: `config`). */
const AGENT_CONFIG_KEY = 'config';

function fromConfigMap(cm: Obj, out: AgentInput): void {
  const name = nameOf(cm);
  const data = isObj(cm['data']) ? cm['data'] : {};
  const keys = Object.keys(data);
  // Azure's ip-masq-agent-v2 reads every key whose name starts with "ip-masq".
  const used = keys.filter((k) => k === AGENT_CONFIG_KEY || k.startsWith('ip-masq'));
  for (const k of keys) {
    const v = data[k];
    if (used.includes(k) && typeof v === 'string') {
      out.bodies.push({ text: v, source: `${name} data.${k}` });
    } else {
      out.skipped.push(`${name} data.${k} (not an ip-masq-agent config key)`);
    }
  }
  if (isObj(cm['binaryData']))
    for (const k of Object.keys(cm['binaryData']))
      out.skipped.push(`${name} binaryData.${k} (binary data is not a config)`);
  if (used.length === 0)
    out.skipped.push(`${name} has no "${AGENT_CONFIG_KEY}" key: the agent used its defaults`);
}

function isAgentContainer(c: Obj): boolean {
  const image = typeof c['image'] === 'string' ? c['image'] : '';
  const name = typeof c['name'] === 'string' ? c['name'] : '';
  return /ip-masq-agent/.test(image) || /ip-masq/.test(name);
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function fromDaemonSet(ds: Obj, out: AgentInput): void {
  const name = nameOf(ds);
  const spec = isObj(ds['spec']) ? ds['spec'] : {};
  const template = isObj(spec['template']) ? spec['template'] : {};
  const podSpec = isObj(template['spec']) ? template['spec'] : {};
  const containers = Array.isArray(podSpec['containers'])
    ? podSpec['containers'].filter(isObj)
    : [];
  const agents = containers.filter(isAgentContainer);
  if (agents.length === 0) {
    out.skipped.push(`${name}: no ip-masq-agent container (image or name ip-masq-agent)`);
    return;
  }
  for (const c of agents) {
    // The binary may be in `command` (with flags after it) or be the image's entrypoint.
    const command = stringList(c['command']);
    const flags = command.filter((a) => a.startsWith('-'));
    out.commandLines.push({
      args: [...flags, ...stringList(c['args'])],
      source: `${name} container ${typeof c['name'] === 'string' ? c['name'] : '?'}`,
    });
  }
  for (const c of containers.filter((c) => !isAgentContainer(c)))
    out.skipped.push(`${name} container ${String(c['name'])} (not the agent)`);
  if (isObj(podSpec['nodeSelector']) || isObj(podSpec['affinity']))
    out.skipped.push(
      `${name} nodeSelector/affinity (the agent ran only on the nodes it selects: install ip-masq on the same nodes)`,
    );
}

function collect(doc: unknown, where: string, out: AgentInput): void {
  if (doc === null || doc === undefined) return;
  if (isKubernetesObject(doc)) {
    const kind = String(doc['kind']);
    if (kind === 'List' || (kind.endsWith('List') && Array.isArray(doc['items']))) {
      const items = Array.isArray(doc['items']) ? doc['items'] : [];
      items.forEach((item, i) => collect(item, `${where} items[${i}]`, out));
    } else if (kind === 'ConfigMap') fromConfigMap(doc, out);
    else if (kind === 'DaemonSet') fromDaemonSet(doc, out);
    else out.skipped.push(`${nameOf(doc)} (only ConfigMap and DaemonSet are read)`);
    return;
  }
  if (isObj(doc)) {
    out.skipped.push(`${where} (a mapping that is not a Kubernetes object)`);
    return;
  }
  throw new ImportError(
    `${where} is neither an ip-masq-agent config (a mapping) nor a Kubernetes ConfigMap, DaemonSet or List`,
  );
}

/**
 * Splits `text` into agent config bodies and command lines. A text that is itself a config body
 * comes back as one body with its original text (so it is parsed with the agent's YAML rules).
 * Throws ImportError (message: what is wrong, where) for YAML that does not parse.
 */
export function readAgentInput(text: string, label: string): AgentInput {
  // JSON is YAML: one parser for both. The config body itself is re-read by agent-config.ts.
  const docs = parseAllDocuments(text, { uniqueKeys: false, prettyErrors: false });
  if (!Array.isArray(docs)) throw new ImportError(`${label}: not YAML (${String(docs)})`);
  const out: AgentInput = { bodies: [], commandLines: [], skipped: [] };
  docs.forEach((d, i) => {
    const err = d.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      throw new ImportError(
        `${label}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML or JSON: ${err.message.split('\n')[0]}`,
      );
    }
    const where = docs.length > 1 ? `${label} document ${i + 1}` : label;
    const value: unknown = d.toJS({ maxAliasCount: 100 });
    if (!isKubernetesObject(value) && isObj(value)) {
      // A bare config body: keep its own text (of this document) for agent-config.ts.
      out.bodies.push({ text: docs.length > 1 ? String(d) : text, source: where });
      return;
    }
    collect(value, where, out);
  });
  if (out.bodies.length === 0 && out.commandLines.length === 0 && docs.every((d) => !d.contents))
    out.skipped.push(`${label} is empty: the agent's defaults`);
  return out;
}
