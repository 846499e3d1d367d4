/** The chaos run's summary, as a person reads it. */
import type { ChaosReport } from './chaos.ts';

export function formatReport(report: ChaosReport, intervalMs: number): string {
  const lines: string[] = [];
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const byComponent = (values: Record<string, number>, unit = '') =>
    Object.entries(values)
      .map(([component, value]) => `${component} ${Number.isFinite(value) ? `${value}${unit}` : 'never'}`)
      .join(', ');
  lines.push(
    `chaos: seed ${report.seed}, ${report.kills.length} kills, one every ${seconds(intervalMs)}, run took ${seconds(report.durationMs)}`,
  );
  lines.push(`  kills by component:      ${byComponent(report.killsByComponent)}`);
  lines.push(`  longest time to up again: ${byComponent(report.longestRecoveryMs, ' ms')}`);
  if (report.appends && report.reads && report.verdict) {
    const { appends, reads, verdict } = report;
    lines.push(
      `  appends:  ${appends.acknowledged} acknowledged by Redis, ${appends.lost} lost, ${appends.retries} retried while Redis was away`,
    );
    lines.push(
      `  reads:    ${reads.attempted} attempted, ${reads.answered} answered, ${reads.refused} refused with 503, ${reads.unreachable} unreachable, ${reads.other} other`,
    );
    lines.push(
      `  stream end ${verdict.streamEnd}: account-system at ${verdict.positions['account-system'] ?? '?'}, balance at ${verdict.positions.balance ?? '?'}`,
    );
    lines.push(
      `  registry: ${verdict.lostInAccountSystem.length} missing from /accounts, ${verdict.lostInBalance.length} unknown to balance, ${verdict.duplicates.length} duplicates, order ${verdict.inOrder ? 'kept' : 'BROKEN'}`,
    );
    lines.push(
      `  components down at the end: ${verdict.componentsDown.length === 0 ? 'none' : verdict.componentsDown.join(', ')}`,
    );
  }
  if (report.transfers && report.money) {
    const { transfers, money } = report;
    const list = (items: string[]) =>
      items.length === 0 ? 'none' : `${items.length}: ${items.slice(0, 5).join('; ')}`;
    lines.push(
      `  transfers: ${transfers.accepted} accepted, ${money.transfers.completed} completed, ${money.transfers.rejected} rejected, ${money.transfers.unsettled.length} unsettled, ${transfers.resent} sends repeated with the same key; ${money.transfers.retried} accepted after a lost answer, ${money.transfers.retriedRequestedOnce} of them requested exactly once; ${transfers.unanswered.length} never answered`,
    );
    lines.push(
      `  money:    supply ${money.issued} (the supply stream), issued into the ledgers ${money.openings}, balances ${money.balances}, audit ${money.audit ? `${money.audit.conserved ? 'conserved' : 'NOT CONSERVED'} (balances ${money.audit.balances}, supply ${money.audit.supply}, ${money.audit.stuck} stuck, violations ${list(money.audit.violations.map((v) => JSON.stringify(v)))})` : 'unanswered'}: ${money.conserved ? 'CONSERVED' : 'NOT CONSERVED'}`,
      `  state:    every ledger's script-kept state = the fold of its stream: ${money.stateMismatches.length === 0 ? 'yes' : list(money.stateMismatches)}`,
    );
    lines.push(`  ledgers:  negative balances ${list(money.negative)}; wrong entries ${list(money.wrongEntries)}`);
    lines.push(
      `  replay:   every ledger folded from scratch = its account's live balance: ${money.replayMismatches.length === 0 ? 'yes' : list(money.replayMismatches)}; pending in the processors' group: ${money.pendingInGroup}`,
    );
    if (transfers.unexpected.length > 0) lines.push(`  unexpected answers: ${list(transfers.unexpected)}`);
    if (transfers.unanswered.length > 0) lines.push(`  keys never answered: ${list(transfers.unanswered)}`);
  }
  lines.push(`  RESULT: ${report.passed ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}
