// Summarises scripts/falcon-compare.sh: node report.mjs go.txt js.jsonl
// go.txt holds `go test -bench Compare` output from several rounds, each line
// with a "median-ms" metric; js.jsonl one bench.mjs result per round. Prints
// the median over rounds of each figure and the ratios theirs / ours.
import { readFileSync } from 'node:fs';

const [goPath, jsPath] = process.argv.slice(2);
const median = (xs) => {
  if (!xs || xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const go = {}, goMin = {};
for (const line of readFileSync(goPath, 'utf8').split('\n')) {
  const m = line.match(/^BenchmarkCompare(\w+?)(-\d+)?\s.*?([\d.]+) median-ms/);
  if (m) (go[m[1]] ??= []).push(Number(m[3]));
  const mm = line.match(/^BenchmarkCompare(\w+?)(-\d+)?\s.*?([\d.]+) min-ms/);
  if (mm) (goMin[mm[1]] ??= []).push(Number(mm[3]));
}
const js = { liboqs: {}, noble: {} }, jsMin = { liboqs: {}, noble: {} };
let rounds = 0;
try {
  for (const line of readFileSync(jsPath, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    rounds++;
    for (const lib of Object.keys(js)) {
      for (const op of ['keygen', 'sign', 'verify']) {
        const v = r[lib]?.[op + '_ms'];
        if (v !== undefined) (js[lib][op] ??= []).push(v);
        const w = r[lib]?.[op + '_min_ms'];
        if (w !== undefined) (jsMin[lib][op] ??= []).push(w);
      }
    }
  }
} catch { /* no JS figures */ }

const fmt = (x) => x === undefined ? '-' : x < 1 ? x.toFixed(4) : x.toFixed(2);
const ratio = (theirs, ours) => theirs === undefined || ours === undefined ? '-' : (theirs / ours).toFixed(2) + 'x';
const rows = [
  ['keygen', 'GenerateKey', 'keygen'],
  ['sign (cached key)', 'Sign', 'sign'],
  ['sign (sk bytes)', 'SignFromBytes', 'sign'],
  ['verify (pk bytes)', 'Verify', 'verify'],
  ['verify (parsed pk)', 'VerifyParsedKey', 'verify'],
];
const goRounds = Math.max(0, ...Object.values(go).map((v) => v.length));
const line = (c) => console.log(c[0].padEnd(20) + c.slice(1).map((s) => String(s).padStart(11)).join(''));
const table = (title, G, J, agg) => {
  console.log(title);
  line(['operation', 'go', 'liboqs-js', 'noble', 'liboqs/go', 'noble/go']);
  for (const [label, goName, op] of rows) {
    const g = agg(G[goName]);
    const l = agg(J.liboqs[op]);
    const n = agg(J.noble[op]);
    line([label, fmt(g), fmt(l), fmt(n), ratio(l, g), ratio(n, g)]);
  }
};
const min = (xs) => (xs && xs.length ? Math.min(...xs) : undefined);
console.log(`\nFALCON-1024 (Go rounds: ${goRounds}, node rounds: ${rounds}); ratio = theirs / ours, > 1 means Go is faster`);
table('medians in ms (median over rounds of per-operation medians):', go, js, median);
table('fastest single operation in ms (least disturbed by other load):', goMin, jsMin, min);
console.log('liboqs-js and noble take the secret and public keys as bytes on every call;');
console.log('"cached key" / "parsed pk" rows show what repeated use of one Go key costs.');
