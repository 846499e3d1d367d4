/** Asks an account's own service for its balance, with a deadline. */
import { z } from 'zod';

const balanceReply = z.object({ balance: z.number().finite() });

/** The balance, or a thrown Error saying why the account did not give one. */
export async function fetchBalance(accountUrl: string, timeoutMs: number): Promise<number> {
  const response = await fetch(new URL('/balance', accountUrl), { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`it answered HTTP ${response.status}`);
  const reply = balanceReply.safeParse(await response.json());
  if (!reply.success) throw new Error('its answer has no numeric balance');
  return reply.data.balance;
}
