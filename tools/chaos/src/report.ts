/** The chaos run's summary, as a person reads it. */
import { transfersKey } from '@microbank/events';
import type { ChaosReport } from './chaos.ts';

export function formatReport(report: ChaosReport, intervalMs: number): string {
  const lines: string[] = [];
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const byComponent = (values: Record<string, number>, unit = '') =>
    Object.entries(values)
      .map(([component, value]) => `${component} ${Number.isFinite(value) ? `${value}${unit}` : 'never'}`)
      .join(', ');
  const range = (values: number[], unit: (value: number) => string) =>
    values.length === 0
      ? '-'
      : `${unit(Math.min(...values))}${values.length > 1 ? `-${unit(Math.max(...values))}` : ''}`;
  const held = (ms: number) => (ms / 1000).toFixed(1);
  lines.push(
    `chaos: seed ${report.seed}, ${report.kills.length} kills and ${report.pauses.length} pauses, one every ${seconds(intervalMs)}, run took ${seconds(report.durationMs)}${report.interrupted ? ' (INTERRUPTED: nothing checked)' : ''}`,
  );
  if (report.clusterFaults) {
    const faults = report.clusterFaults;
    const of = (fault: string) => faults.filter((each) => each.fault === fault);
    const ms = (values: Array<number | undefined>) => {
      const known = values.filter((value): value is number => value !== undefined);
      const missing = values.length - known.length;
      return `${range(known, (value) => `${value}`)} ms${missing > 0 ? ` (${missing} NEVER)` : ''}`;
    };
    lines.push(
      `  cluster faults: ${of('primary').length} primary SIGKILLs, ${of('failover').length} CLUSTER FAILOVERs, ${of('replica').length} replica SIGKILLs (${faults.filter((each) => each.target === transfersKey()).length} aimed at the transfers stream's shard)`,
      `  served again after a primary SIGKILL: ${ms(of('primary').map((each) => each.failedOverAfterMs))}; after CLUSTER FAILOVER: ${ms(of('failover').map((each) => each.failedOverAfterMs))}`,
      `  cluster whole again (node back, replicas in sync): ${ms(faults.map((each) => each.wholeAfterMs))}`,
    );
  }
  if (report.kills.length > 0 || !report.clusterFaults) {
    lines.push(`  kills by component:      ${byComponent(report.killsByComponent)}`);
    lines.push(`  longest time to up again: ${byComponent(report.longestRecoveryMs, ' ms')}`);
  }
  if (report.pauses.length > 0) {
    // The lengths of the pauses that ran their course (a kill ends a pause early).
    const byPaused = new Map<string, number[]>();
    for (const pause of report.pauses) {
      const lengths = byPaused.get(pause.component) ?? [];
      if (!pause.killedWhilePaused) lengths.push(pause.heldMs ?? 0);
      byPaused.set(pause.component, lengths);
    }
    const killed = report.pauses.filter((pause) => pause.killedWhilePaused).length;
    lines.push(
      `  pauses (SIGSTOP .. SIGCONT): ${[...byPaused].map(([component, lengths]) => `${component} ${report.pauses.filter((pause) => pause.component === component).length} (${range(lengths, held)} s)`).join(', ')}; ${killed} killed while paused`,
    );
    lines.push(`  longest time to up again after SIGCONT: ${byComponent(report.longestResumeMs, ' ms')}`);
  }
  lines.push(
    `  components paused at the end: ${report.pausedAtEnd.length === 0 ? 'none' : report.pausedAtEnd.join(', ')}`,
  );
  if (report.memoryPressure) {
    const { windows, restored, maxmemory } = report.memoryPressure;
    const headroom = windows.map((w) => ((w.maxmemoryBytes - w.usedBytes) * 100) / w.usedBytes);
    const lengths = windows.map((w) => w.heldMs ?? 0);
    lines.push(
      `  memory pressure: ${windows.length} windows of maxmemory = used + ${range(headroom, (p) => p.toFixed(1))} % (noeviction), held ${range(lengths, held)} s (${held(lengths.reduce((a, b) => a + b, 0))} s in all); maxmemory restored (${maxmemory}): ${restored ? 'yes' : 'NO'}`,
    );
  }
  if (report.appends && report.reads && report.verdict) {
    const { appends, reads, verdict } = report;
    lines.push(
      `  appends:  ${appends.acknowledged} acknowledged by Redis, ${appends.lost} lost, ${appends.retries} retried while Redis was away, ${appends.unconfirmed} not confirmed by a replica (not checked)`,
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
      `  components down at the end: ${verdict.componentsDown.length === 0 ? 'none' : verdict.componentsDown.join(', ')}${verdict.componentsPaused.length > 0 ? ` (paused: ${verdict.componentsPaused.join(', ')})` : ''}`,
    );
  }
  if (report.transfers && report.money) {
    const { transfers, money } = report;
    const list = (items: string[]) =>
      items.length === 0 ? 'none' : `${items.length}: ${items.slice(0, 5).join('; ')}`;
    lines.push(
      `  transfers: ${transfers.accepted} accepted, ${money.transfers.completed} completed, ${money.transfers.rejected} rejected, ${money.transfers.unsettled.length} unsettled, ${transfers.resent} sends repeated with the same key; ${money.transfers.retried} accepted after a lost answer, ${money.transfers.retriedRequestedOnce} of them requested exactly once; ${transfers.unanswered.length} never answered`,
      `  acknowledged (202) and lost: ${list(money.transfers.lost)}`,
      `  indeterminate: ${transfers.indeterminate.answers} answers (503 indeterminate) to ${money.indeterminate.transfers} transfers; each ended once: ${money.indeterminate.accepted} retried into a 202, ${money.indeterminate.refused} into a refusal, ${money.indeterminate.found} found by GET /transfers/:id, ${money.indeterminate.neverMade} never made; problems ${list(money.indeterminate.problems)}`,
      `  refusals: ${transfers.refused.full} 503 short of room (admission), ${transfers.refused.outOfRoom} 503 out of room (a write Redis refused), ${transfers.refused.other} other 503${
        Object.keys(transfers.otherReasons).length > 0
          ? ` (${Object.entries(transfers.otherReasons)
              .map(([reason, n]) => `${n} ${reason}`)
              .join(', ')})`
          : ''
      }; ${transfers.unexpected.length} unexpected answers (a 500, another 5xx or 4xx)`,
    );
    lines.push(
      `  money:    supply ${money.issued} (the supply stream), issued into the ledgers ${money.issuedIntoLedgers}, balances ${money.balances}, audit ${money.audit ? `${money.audit.conserved ? 'conserved' : 'NOT CONSERVED'} (balances ${money.audit.balances}, supply ${money.audit.supply}, ${money.audit.stuck} stuck, violations ${list(money.audit.violations.map((v) => JSON.stringify(v)))})` : `unanswered (${money.auditUnanswered ?? '?'})`}: ${money.conserved ? 'CONSERVED' : 'NOT CONSERVED'}`,
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
