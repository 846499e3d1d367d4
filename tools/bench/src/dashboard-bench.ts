/**
 * `dashboard`: what open dashboard pages cost the bank. The local stack runs (its own, on free
 * ports) under no load; for a window with no page open, then for the same window with ten pages
 * open in a real browser, it counts the commands Redis processed and the CPU time every process
 * of the stack used. The pages are fed by the dashboard's one push (server-sent events), so the
 * difference should be the dashboard writing to ten sockets, and nothing for Redis or any other
 * service.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { componentsOf, readPid, serviceUrl, startStackProcess } from '@microbank/local-stack';
import { launchBrowser } from '@microbank/testing';
import { Redis } from 'ioredis';

export interface DashboardWindow {
  pages: number;
  seconds: number;
  redisCommandsPerMinute: number;
  /** CPU ms per minute, per component of the stack. */
  cpuMsPerMinute: Record<string, number>;
}

export interface DashboardFigures {
  without: DashboardWindow;
  withPages: DashboardWindow;
}

const CLOCK_TICKS_PER_SECOND = 100;

function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1_000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export async function dashboardBench(seconds: number): Promise<DashboardFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'microbank-bench-dashboard-'));
  const stack = await startStackProcess(dataDir);
  const redis = new Redis(stack.plan.redisUrl);
  const browser = await launchBrowser();
  try {
    const components = componentsOf(stack.plan);
    const measure = async (pages: number): Promise<DashboardWindow> => {
      const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1]);
      const cpu = () =>
        Object.fromEntries(components.map((name) => [name, cpuMs(Number(readPid(dataDir, name)?.handle))]));
      const [commandsBefore, cpuBefore] = [await commands(), cpu()];
      await sleep(seconds * 1_000);
      const [commandsAfter, cpuAfter] = [await commands(), cpu()];
      const perMinute = (value: number) => Math.round((value * 60) / seconds);
      return {
        pages,
        seconds,
        // Less the two INFO calls of this measurement.
        redisCommandsPerMinute: perMinute(commandsAfter - commandsBefore - 1),
        cpuMsPerMinute: Object.fromEntries(
          components.map((name) => [name, perMinute((cpuAfter[name] ?? 0) - (cpuBefore[name] ?? 0))]),
        ),
      };
    };
    await sleep(2_000); // the stack goes quiet after starting
    const without = await measure(0);
    const pages = await Promise.all(Array.from({ length: 10 }, () => browser.newPage()));
    for (const page of pages) {
      await page.goto(serviceUrl(stack.plan, 'dashboard'));
      await page.locator('tr[data-account="john-account"]').waitFor({ timeout: 10_000 });
    }
    const withPages = await measure(pages.length);
    return { without, withPages };
  } finally {
    await browser.close();
    redis.disconnect();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
