// The comparison table: each target names our figure, the reference it is compared with and the
// goal, and reports met / missed by how much, or why it could not be judged. Pure, so the verdict
// logic is unit-tested; run.ts feeds it the measured numbers.

export type Goal =
  /** ours / reference >= x (more is better: pps, rates) */
  | { kind: 'ratio-at-least'; x: number }
  /** ours / reference <= x (less is better: memory) */
  | { kind: 'ratio-at-most'; x: number }
  /** ours < x in `unit` (absolute bound) */
  | { kind: 'below'; x: number; unit: string }
  /** ours <= x in `unit` (absolute bound, may be 0) */
  | { kind: 'at-most'; x: number; unit: string };

export interface TargetInput {
  name: string;
  goal: Goal;
  /** Our figure, or a string saying why it is missing. */
  ours: number | string;
  /** The reference figure (unused for 'below'), or why it is missing. */
  reference?: number | string;
  referenceName?: string;
  unit: string;
}

export interface Verdict {
  name: string;
  ours: number | null;
  reference: number | null;
  ratio: number | null;
  goal: string;
  /** 'met', 'missed' or 'not measured'. */
  status: 'met' | 'missed' | 'not measured';
  /** Human detail: "by 12%" / "x2.31 of 4 needed" / the reason nothing was measured. */
  detail: string;
}

function goalText(g: Goal, refName: string): string {
  switch (g.kind) {
    case 'ratio-at-least': return `>= ${g.x}x ${refName}`;
    case 'ratio-at-most': return `<= ${g.x}x ${refName}`;
    case 'below': return `< ${g.x} ${g.unit}`;
    case 'at-most': return `<= ${fmt(g.x)} ${g.unit}`.trim();
  }
}

export function judge(t: TargetInput): Verdict {
  const refName = t.referenceName ?? 'reference';
  const base = { name: t.name, goal: goalText(t.goal, refName) };
  if (typeof t.ours === 'string') {
    return { ...base, ours: null, reference: typeof t.reference === 'number' ? t.reference : null, ratio: null, status: 'not measured', detail: `ours: ${t.ours}` };
  }
  if (t.goal.kind === 'below' || t.goal.kind === 'at-most') {
    const x = t.goal.x;
    const met = t.goal.kind === 'below' ? t.ours < x : t.ours <= x;
    if (x === 0) {
      return { ...base, ours: t.ours, reference: null, ratio: null, status: met ? 'met' : 'missed', detail: met ? 'none' : `${fmt(t.ours)} ${t.unit}`.trim() };
    }
    const by = Math.abs(t.ours - x) / x;
    return {
      ...base, ours: t.ours, reference: null, ratio: null, status: met ? 'met' : 'missed',
      detail: met ? `${pct(by)} under the bound` : `over by ${pct(by)}`,
    };
  }
  if (typeof t.reference !== 'number') {
    return { ...base, ours: t.ours, reference: null, ratio: null, status: 'not measured', detail: `${refName}: ${t.reference ?? 'missing'}` };
  }
  if (t.reference === 0) {
    return { ...base, ours: t.ours, reference: 0, ratio: null, status: 'not measured', detail: `${refName} measured 0` };
  }
  const ratio = t.ours / t.reference;
  const x = t.goal.x;
  const met = t.goal.kind === 'ratio-at-least' ? ratio >= x : ratio <= x;
  // "missed by": how far the ratio is from the goal, relative to the goal.
  const by = Math.abs(ratio - x) / x;
  return {
    ...base, ours: t.ours, reference: t.reference, ratio, status: met ? 'met' : 'missed',
    detail: met ? `ratio ${ratio.toFixed(2)} (margin ${pct(by)})` : `ratio ${ratio.toFixed(2)}, short of ${x} by ${pct(by)}`,
  };
}

function pct(f: number): string {
  return `${(f * 100).toFixed(f < 0.1 ? 1 : 0)}%`;
}

export function fmt(v: number | null, digits = 3): string {
  if (v === null || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return Number(v.toPrecision(digits)).toString();
}

/** Markdown table; `|` in free text is escaped so a reason cannot break the table. */
export function markdownTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const line = (cells: readonly string[]): string => `| ${cells.map(esc).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export function verdictTable(verdicts: readonly Verdict[], units: readonly string[]): string {
  return markdownTable(
    ['Target', 'Goal', 'Ours', 'Reference', 'Result'],
    verdicts.map((v, i) => [
      v.name, v.goal,
      v.ours === null ? '—' : `${fmt(v.ours)} ${units[i] ?? ''}`.trim(),
      v.reference === null ? '—' : `${fmt(v.reference)} ${units[i] ?? ''}`.trim(),
      `**${v.status}**: ${v.detail}`,
    ]),
  );
}
