import { describe, expect, it } from 'vitest';
import { LineSieve } from '../../daemon/src/nft/line-sieve.js';

const collect = (needles?: string[]) => {
  const lines: string[] = [];
  return { sieve: new LineSieve(needles, (l) => lines.push(l)), lines };
};

describe('LineSieve', () => {
  it('splits lines across chunk boundaries, keeping every line without needles', () => {
    const { sieve, lines } = collect();
    for (const c of ['a', 'b\nc', 'd\n\ne\nf', '\n', 'tail']) sieve.push(Buffer.from(c));
    expect(lines).toEqual(['ab', 'cd', '', 'e', 'f']);
    sieve.end();
    expect(lines).toEqual(['ab', 'cd', '', 'e', 'f', 'tail']);
  });

  it('keeps only lines containing a needle, even when the needle straddles two chunks', () => {
    const { sieve, lines } = collect(['"ip-masq"', 'MASQUERADE']);
    sieve.push(Buffer.from('{"table": "kube"}\n{"table": "ip-'));
    sieve.push(Buffer.from('masq"}\n{"x": "MASQUER'));
    sieve.push(Buffer.from('ADE"}\n{"table": "nat"}\n'));
    expect(lines).toEqual(['{"table": "ip-masq"}', '{"x": "MASQUERADE"}']);
  });

  it('drops a whole chunk of foreign lines and still decodes multi-byte text it keeps', () => {
    const { sieve, lines } = collect(['ip-masq']);
    sieve.push(Buffer.from('kube ü\n'.repeat(1000)));
    expect(lines).toEqual([]);
    const text = 'ip-masq « résumé »';
    const bytes = Buffer.from(`${text}\n`);
    sieve.push(bytes.subarray(0, 12));
    sieve.push(bytes.subarray(12));
    expect(lines).toEqual([text]);
  });

  it('a last line without a newline is kept at end() only when it matches', () => {
    const a = collect(['keep']);
    a.sieve.push(Buffer.from('drop me'));
    a.sieve.end();
    expect(a.lines).toEqual([]);
    const b = collect(['keep']);
    b.sieve.push(Buffer.from('keep me'));
    b.sieve.end();
    b.sieve.end();
    expect(b.lines).toEqual(['keep me']);
  });
});
