/**
 * Where a config problem is: issues located at YAML nodes or text offsets, reported as
 * 1-based line:col of the file the operator wrote. The fast path (fast-cidr-list.ts) parses a
 * spliced copy of the text, so every offset goes through `mapOffset` back to the original.
 */
import { LineCounter } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import type { ConfigIssue } from '../errors.js';

/** 1-based position in a file. */
export interface Loc {
  line: number;
  col: number;
}

/** Collects issues located at nodes or offsets of the parsed text (mapped to the original). */
export class Issues {
  readonly list: ConfigIssue[] = [];
  constructor(
    private readonly file: string,
    /** 1-based line/col of an offset in the original text. */
    private readonly linePos: (offset: number) => Loc,
    /** Offset in the parsed text → offset in the original text. */
    private readonly mapOffset: (offset: number) => number,
  ) {}

  /** In file order (Array.prototype.sort is stable), as an operator reads them. */
  sorted(): ConfigIssue[] {
    return [...this.list].sort((a, b) => a.line - b.line || a.col - b.col);
  }

  /** An empty collector for the same file and offsets. */
  sibling(): Issues {
    return new Issues(this.file, this.linePos, this.mapOffset);
  }

  /** At an offset of the original text. */
  atOriginal(offset: number, path: string, message: string): void {
    const { line, col } = this.linePos(offset);
    this.list.push({ file: this.file, line, col, path, message });
  }

  /** At an offset of the parsed text. */
  atOffset(offset: number, path: string, message: string): void {
    this.atOriginal(this.mapOffset(offset), path, message);
  }

  at(
    node: YamlNode | null | undefined,
    fallbackOffset: number,
    path: string,
    message: string,
  ): void {
    this.atOffset(this.nodeOffset(node, fallbackOffset), path, message);
  }

  /** Position of a node (as `at` reports it). */
  locate(node: YamlNode | null | undefined, fallbackOffset: number): Loc {
    return this.linePos(this.mapOffset(this.nodeOffset(node, fallbackOffset)));
  }

  /** Position of an offset of the parsed text. */
  locateOffset(offset: number): Loc {
    return this.linePos(this.mapOffset(offset));
  }

  /** Offset of the parsed text → offset of the original text. */
  original(offset: number): number {
    return this.mapOffset(offset);
  }

  /** Line of an offset of the original text. */
  lineOfOriginal(offset: number): number {
    return this.linePos(offset).line;
  }

  private nodeOffset(node: YamlNode | null | undefined, fallbackOffset: number): number {
    const range = node?.range;
    // An empty value (`key:` with nothing after it) has a zero-width range at the end of the
    // line; pointing at the key reads better.
    return range && range[1] > range[0] ? range[0] : fallbackOffset;
  }
}

/** line/col lookup for a text that was not the one given to the YAML parser. */
export function lineIndex(text: string): (offset: number) => Loc {
  let counter: LineCounter | null = null;
  return (offset) => {
    if (counter === null) {
      counter = new LineCounter();
      counter.addNewLine(0);
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1))
        counter.addNewLine(i + 1);
    }
    return counter.linePos(offset);
  };
}
