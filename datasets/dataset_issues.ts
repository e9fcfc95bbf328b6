/**
 * Problems found while listing a dataset, with the file and record they concern. Adapters collect them; the data
 * checker (`datasets/check_data.ts`) prints them; adapters throw on the first error unless asked to collect.
 */

/** What kind of problem (stable keys: the data checker counts by them). */
export type DatasetIssueCode =
  | 'missing-file'
  | 'unreadable-file'
  | 'duplicate-id'
  | 'unknown-class'
  | 'degenerate-box'
  | 'box-outside-image'
  | 'size-mismatch'
  | 'bad-record'
  | 'empty-image';

/** One problem. */
export interface DatasetIssue {
  code: DatasetIssueCode;
  /** `error`: the record cannot be used as is; `warning`: it was used after a documented fix (clip, drop). */
  severity: 'error' | 'warning';
  /** The file concerned (annotation file, image, mask). */
  file: string;
  /** The record inside the file: `object 3`, `annotation id 17`, `image id 5`, `line 12`. */
  record?: string;
  message: string;
}

/** Format an issue as one line: `error [code] file (record): message`. */
export function formatIssue(issue: DatasetIssue): string {
  return `${issue.severity} [${issue.code}] ${issue.file}${issue.record ? ` (${issue.record})` : ''}: ${issue.message}`;
}

/** Thrown by adapters on the first error issue when they do not collect. */
export class DatasetError extends Error {
  constructor(readonly issue: DatasetIssue) {
    super(formatIssue(issue));
    this.name = 'DatasetError';
  }
}

/** Collects issues; throws on errors unless `collect` is set. */
export class IssueLog {
  readonly issues: DatasetIssue[] = [];
  constructor(private readonly collect: boolean) {}

  /** Record an issue; an error throws `DatasetError` unless collecting. */
  add(issue: DatasetIssue): void {
    if (issue.severity === 'error' && !this.collect) throw new DatasetError(issue);
    this.issues.push(issue);
  }
}
