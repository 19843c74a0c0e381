/**
 * What the settings registry (config/registry.ts) makes true for every key, whatever it is:
 * the walk knows it at its level, the defaults come from its declaration, a second file
 * setting a one-file key is an error naming both places, a mis-cased key gets a did-you-mean,
 * and `check --json` lists the keys in registry order.
 */
import { describe, expect, it } from 'vitest';
import { mergeConfigFiles } from '../../daemon/src/config/merge.js';
import type { SettingKey } from '../../daemon/src/config/schema.js';
import {
  CONCAT_KEYS,
  declarationOf,
  defaultConfig,
  getSetting,
  SETTING_KEYS,
  TOP_LEVEL_NAMES,
} from '../../daemon/src/config/settings.js';
import { configToJson } from '../../daemon/src/config/to-json.js';
import { ConfigError, formatConfigIssue } from '../../daemon/src/errors.js';

/** `key: value` at its place: `flannel.subnetEnv` is `subnetEnv:` under `flannel:`. */
function yamlSetting(key: string, value: string, keyText = key): string {
  const dot = keyText.indexOf('.');
  return dot === -1
    ? `${keyText}: ${value}\n`
    : `${keyText.slice(0, dot)}:\n  ${keyText.slice(dot + 1)}: ${value}\n`;
}

function issuesOf(files: Array<{ path: string; text: string }>): string[] {
  try {
    mergeConfigFiles(files);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map(formatConfigIssue);
    throw e;
  }
  throw new Error('expected the files to be refused');
}

const oneFileKeys = SETTING_KEYS.filter((k) => declarationOf(k).merge === 'one-file');

describe('the settings registry', () => {
  it('declares the keys of the top level in the order errors and check --json show them', () => {
    expect(TOP_LEVEL_NAMES).toEqual([
      'nonMasqueradeCIDRs',
      'masqLinkLocal',
      'masqLinkLocalIPv6',
      'resyncInterval',
      'cidrLimit',
      'nomasqAllReservedRanges',
      'enableIPv6',
      'randomFully',
      'flannel',
      'toPorts',
      'metrics',
      'masqueradeCIDRs',
      'outputInterfaces',
      'sourceCIDRs',
      'snatAddress',
      'snatAddressIPv6',
    ]);
    expect(Object.keys(configToJson(defaultConfig()))).toEqual([
      'nonMasqueradeCIDRs',
      'collapsed',
      ...TOP_LEVEL_NAMES.slice(1),
    ]);
    expect(issuesOf([{ path: 'a.yaml', text: 'nosuchkey: 1\n' }])).toEqual([
      `a.yaml:1:1: unknown key "nosuchkey"; valid keys at the top level: ${TOP_LEVEL_NAMES.join(', ')}`,
    ]);
  });

  it.each(SETTING_KEYS)('%s: defaultConfig holds the declared default', (key: SettingKey) => {
    const config = defaultConfig();
    expect(getSetting(config, key)).toEqual(declarationOf(key).default(config));
  });

  it.each(oneFileKeys)('%s: a second file setting it names both places', (key: SettingKey) => {
    // The duplicate is found from the keys alone, whatever the values are.
    const text = yamlSetting(key, '~');
    const [line, col] = key.includes('.') ? [2, 3] : [1, 1];
    const issues = issuesOf([
      { path: 'a.yaml', text },
      { path: 'b.yaml', text },
    ]);
    expect(issues).toContain(
      `b.yaml:${line}:${col}: ${key}: also set in a.yaml:${line}:${col}; every key except ${CONCAT_KEYS.join(', ')} may be set in one file only: remove one of them`,
    );
  });

  it.each(SETTING_KEYS)('%s: written in capitals gets a did-you-mean', (key: SettingKey) => {
    const name = key.slice(key.indexOf('.') + 1);
    const shouted = key.replace(name, name.toUpperCase());
    const issues = issuesOf([{ path: 'a.yaml', text: yamlSetting(key, '~', shouted) }]);
    expect(issues).toEqual([
      expect.stringContaining(
        `unknown key "${name.toUpperCase()}"; did you mean ${name}? (keys are case-sensitive)`,
      ),
    ]);
  });
});
