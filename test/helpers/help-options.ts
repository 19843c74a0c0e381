/** Which options a help text lists: lines of the form `  --name ARG   description`. */
export function optionsListed(help: string): Set<string> {
  const line = /^[ \t]+(?:-\w, )?--([a-z][a-z0-9-]*)(?:[ =][A-Z][A-Z_|-]*)?(?: {2,}|$)/gm;
  return new Set([...help.matchAll(line)].map((m) => m[1] as string));
}
