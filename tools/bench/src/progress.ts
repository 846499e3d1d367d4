/** Progress lines on stderr, so stdout keeps only the table (and can be piped). */

const interactive = process.stderr.isTTY === true;

/** One status line: rewritten in place on a terminal, printed at most every 10% otherwise. */
export function progressLine(label: string, total: number): (done: number) => void {
  let lastTenth = -1;
  return (done) => {
    const tenth = Math.floor((done / total) * 10);
    if (interactive) {
      process.stderr.write(`\r${label}: ${done.toLocaleString('en')} / ${total.toLocaleString('en')}`);
      if (done >= total) process.stderr.write('\n');
    } else if (tenth !== lastTenth) {
      lastTenth = tenth;
      process.stderr.write(`${label}: ${done.toLocaleString('en')} / ${total.toLocaleString('en')}\n`);
    }
  };
}

export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}
