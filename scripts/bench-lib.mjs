// Helpers of the benchmarks (`pnpm bench`): medians of several runs, the machine load beside each
// figure, ratios against an anchor measured in the same run, and fitted scaling exponents.
import { loadavg } from "node:os";

/** The 1-minute load average, as `uptime` prints it. */
export const load = () => loadavg()[0].toFixed(2);

/** Median of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Median rate (units per second) of `rounds` timed runs of `fn(n)` after one warm-up run;
 * `fn` returns the number of units it processed (default `n`).
 */
export function rate(n, fn, rounds = 5) {
  fn(n);
  const rates = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const units = fn(n) ?? n;
    rates.push(units / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

/**
 * Runs `project` and `anchor` alternately `rounds` times (so both see the same load) and
 * returns both median rates.
 */
export function paired(n, project, anchor, rounds = 5) {
  project(n);
  anchor(n);
  const p = [];
  const a = [];
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    let u = project(n) ?? n;
    p.push(u / ((performance.now() - t0) / 1000));
    t0 = performance.now();
    u = anchor(n) ?? n;
    a.push(u / ((performance.now() - t0) / 1000));
  }
  return { project: median(p), anchor: median(a) };
}

/** Least-squares slope of log(y) over log(x): the scaling exponent (1 = linear). */
export function fitExponent(xs, ys) {
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length;
  const my = ly.reduce((a, b) => a + b, 0) / ly.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < lx.length; i++) {
    num += (lx[i] - mx) * (ly[i] - my);
    den += (lx[i] - mx) ** 2;
  }
  return num / den;
}

const fmt = (v) => v.toLocaleString("en-US", { maximumFractionDigits: v >= 100 ? 0 : 2 });

/**
 * Prints one figure beside its anchor and their ratio, with the load average, and stores it
 * in `results`. `target` is a human-readable goal (e.g. `>= 0.7x`).
 */
export function recordRatio(results, name, value, unit, anchorName, anchorValue, target) {
  const ratio = value / anchorValue;
  results[name] = { value, unit, anchor: anchorName, anchorValue, ratio, load: Number(load()), ...(target ? { target } : {}) };
  console.log(`${name}: ${fmt(value)} ${unit} | anchor ${anchorName}: ${fmt(anchorValue)} ${unit} | ratio ${ratio.toFixed(2)}x${target ? ` (target ${target})` : ""} | load ${load()}`);
  return ratio;
}
