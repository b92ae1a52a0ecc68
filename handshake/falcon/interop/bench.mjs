// Timing of Falcon-1024 in @oqs/liboqs-js and @noble/post-quantum, for
// scripts/falcon-compare.sh. Usage: node bench.mjs [seconds-per-op]
// Prints one JSON object: {lib: {keygen_ms, sign_ms, verify_ms, *_min_ms, n}},
// the median and the minimum over individually timed operations.
import { randomBytes } from 'node:crypto';
import { createFalcon1024 } from '@oqs/liboqs-js';
import { falcon1024 } from '@noble/post-quantum/falcon.js';

const budget = Number(process.argv[2] || 2) * 1000; // ms per operation kind

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function time(fn, minRuns, maxRuns, warm = true) {
  const ts = [];
  const start = performance.now();
  if (warm) fn();
  while (ts.length < maxRuns && (ts.length < minRuns || performance.now() - start < budget)) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return { ms: median(ts), min: Math.min(...ts), n: ts.length };
}

async function main() {
  const oqs = await createFalcon1024();
  const libs = {
    liboqs: {
      keygen: () => oqs.generateKeyPair(),
      sign: (m, sk) => oqs.sign(m, sk),
      verify: (s, m, pk) => oqs.verify(m, s, pk),
    },
    noble: {
      keygen: () => falcon1024.keygen(),
      sign: (m, sk) => falcon1024.sign(m, sk),
      verify: (s, m, pk) => falcon1024.verify(s, m, pk),
    },
  };
  const msg = randomBytes(64);
  const out = {};
  for (const [name, L] of Object.entries(libs)) {
    const kp = L.keygen();
    const sig = L.sign(msg, kp.secretKey);
    if (!L.verify(sig, msg, kp.publicKey)) throw new Error(`${name}: own signature rejected`);
    const kg = time(() => L.keygen(), 2, 200, false); // the key pair above warmed it up
    const sg = time(() => L.sign(msg, kp.secretKey), 10, 2000);
    const vf = time(() => L.verify(sig, msg, kp.publicKey), 10, 20000);
    out[name] = {
      keygen_ms: kg.ms, sign_ms: sg.ms, verify_ms: vf.ms,
      keygen_min_ms: kg.min, sign_min_ms: sg.min, verify_min_ms: vf.min,
      n: { keygen: kg.n, sign: sg.n, verify: vf.n },
    };
  }
  oqs.destroy();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
