/*
 * AppSync's enhanced subscription filters: `{ filterGroup: [{ filters: [{ fieldName, operator, value }] }] }`.
 * Groups are OR'ed, the filters of a group AND'ed, every comparison case-sensitive. The limits are
 * AppSync's, so a filter that works here is accepted there.
 */

export interface Filter {
  readonly fieldName: string;
  readonly operator: string;
  readonly value: unknown;
}

export interface FilterGroup {
  readonly filterGroup: readonly { readonly filters: readonly Filter[] }[];
}

const OPERATORS = new Set(['eq', 'ne', 'le', 'lt', 'ge', 'gt', 'contains', 'notContains', 'beginsWith', 'in', 'notIn', 'between', 'containsAny']);
export const LIMITS = { groups: 10, fieldNamesPerGroup: 5, inValues: 5, containsAnyValues: 20, stringLength: 256 } as const;

/** Checks a filter against AppSync's rules; returns the reason it would be refused, or null. */
export function filterProblem(filter: unknown): string | null {
  const groups = (filter as FilterGroup | null)?.filterGroup;
  if (!Array.isArray(groups) || groups.length === 0) return 'a subscription filter needs a non-empty filterGroup';
  if (groups.length > LIMITS.groups) return `a subscription filter has at most ${LIMITS.groups} filter groups, got ${groups.length}`;
  for (const group of groups) {
    const filters = (group as { filters?: unknown }).filters;
    if (!Array.isArray(filters) || filters.length === 0) return 'each filter group needs a non-empty filters list';
    const names = new Set(filters.map((f: Filter) => f.fieldName));
    if (names.size > LIMITS.fieldNamesPerGroup) return `a filter group may use at most ${LIMITS.fieldNamesPerGroup} field names, got ${names.size}`;
    for (const f of filters as Filter[]) {
      if (typeof f.fieldName !== 'string' || !OPERATORS.has(f.operator)) return `unsupported filter ${JSON.stringify(f)}`;
      const values = Array.isArray(f.value) ? f.value : [f.value];
      if ((f.operator === 'in' || f.operator === 'notIn') && values.length > LIMITS.inValues) return `${f.operator} takes at most ${LIMITS.inValues} values, got ${values.length}`;
      if (f.operator === 'containsAny' && values.length > LIMITS.containsAnyValues) return `containsAny takes at most ${LIMITS.containsAnyValues} values, got ${values.length}`;
      if (f.operator === 'between' && values.length !== 2) return 'between takes exactly two values';
      if (values.some((v) => typeof v === 'string' && v.length > LIMITS.stringLength)) return `filter strings are at most ${LIMITS.stringLength} characters`;
    }
  }
  return null;
}

function compare(field: unknown, operator: string, value: unknown): boolean {
  const values = Array.isArray(value) ? value : [value];
  switch (operator) {
    case 'eq': return field === value;
    case 'ne': return field !== value;
    case 'lt': return field !== null && field !== undefined && (field as number) < (value as number);
    case 'le': return field !== null && field !== undefined && (field as number) <= (value as number);
    case 'gt': return field !== null && field !== undefined && (field as number) > (value as number);
    case 'ge': return field !== null && field !== undefined && (field as number) >= (value as number);
    case 'between': return field !== null && field !== undefined && (field as number) >= (values[0] as number) && (field as number) <= (values[1] as number);
    case 'in': return values.includes(field);
    case 'notIn': return !values.includes(field);
    case 'beginsWith': return typeof field === 'string' && field.startsWith(String(value));
    case 'contains': return Array.isArray(field) ? field.includes(value) : typeof field === 'string' && field.includes(String(value));
    case 'notContains': return Array.isArray(field) ? !field.includes(value) : typeof field !== 'string' || !field.includes(String(value));
    case 'containsAny': return Array.isArray(field) && values.some((v) => field.includes(v));
    default: return false;
  }
}

/** Whether a published payload passes the filter (no filter: everything passes). */
export function matches(filter: FilterGroup | null, payload: Readonly<Record<string, unknown>>): boolean {
  if (!filter) return true;
  return filter.filterGroup.some((group) => group.filters.every((f) => compare(payload[f.fieldName], f.operator, f.value)));
}
