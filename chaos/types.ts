/** Types shared by the chaos suite (runner, load, faults, invariants, table). */

/** One HTTP answer (or client-side failure) seen by a buyer. `t` is ms since the run's epoch. */
export interface ResponseRecord {
  t: number;
  step: string;
  method: string;
  /** 0 = no answer (connection refused/reset, client timeout). */
  status: number;
  /** moleculer-web's `type` of an error body, or a client error word. */
  type?: string;
  ms: number;
  retryAfter?: string;
  /** The body of a 500 (generic message and request id), to find it in the nodes' logs. */
  body500?: string;
  /** Set when the body of an error answer leaks driver/library text (SPEC §11). */
  leak?: string;
}

export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
  /** Time the check needed to converge (eventually-consistent checks), ms. */
  convergedMs?: number;
}

/** The periods of one fault run, ms since the run's epoch. */
export interface FaultWindow {
  baselineStart: number;
  faultStart: number;
  faultEnd: number;
  recoveryEnd: number;
}

export interface FaultMetrics {
  requests: number;
  /** 5xx and no-answer counts per "<status> <type>" during the fault / in the recovery period. */
  failuresDuring: Record<string, number>;
  failuresAfter: Record<string, number>;
  fiveXxDuring: number;
  fiveXxAfter: number;
  /** Failures that are not 5xx (no answer, a route that vanished: 404 NOT_FOUND/SERVICE_NOT_FOUND), during + after. */
  otherFailures: number;
  /** Slowest answer during the fault, ms. */
  maxMsDuring: number;
  /** Status 500 anywhere in the fault's run (baseline included). */
  count500: number;
  /** s from the fault's end to the first moment after which nothing failed; null = never. */
  recoveryS: number | null;
  /** Answers that are neither a success, a domain 4xx nor a 503 SERVICE_UNAVAILABLE with Retry-After. */
  badAnswers: Record<string, number>;
  leaks: string[];
  /** Up to 3 bodies of 500 answers, with their time (ms since the epoch of the run). */
  samples500: string[];
}

export interface FaultResult {
  fault: string;
  window: FaultWindow;
  metrics: FaultMetrics;
  invariants: InvariantResult[];
  /** Fault-specific checks (e.g. SPEC §11 kill -9 budget), same shape as invariants. */
  checks: InvariantResult[];
  journeys: { started: number; paid: number; abandoned: number };
  /** [second since the baseline began, answered well, failed] — the fault starts at window.faultStart. */
  timeline: Array<[number, number, number]>;
  notes: string[];
}
