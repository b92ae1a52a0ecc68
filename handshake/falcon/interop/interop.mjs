// Interop helper for handshake/falcon's TestInterop (interop_test.go).
//
// Usage: node interop.mjs <command> <request.json>; the reply is JSON on stdout.
//   gen     request {keys: {lib: count} or count, messages}: for each library,
//           generate that many key pairs and sign `messages` random messages
//           (spread over the keys); reply
//           {libs: {name: {keys: [{pk, sk}], sigs: [{key, msg, sig}]}}}.
//   verify  request {items: [{lib, pk, msg, sig}], sign: [{lib, sk, msg}]}:
//           verifies the items and signs with the given (foreign) private
//           keys; reply {results: [bool], sigs: [hex]}.
// Byte strings are hex. Libraries: "liboqs" = @oqs/liboqs-js (liboqs compiled
// to WebAssembly, algorithm "Falcon-1024"), "noble" = @noble/post-quantum
// falcon1024. Both use the detached variable-length format 0x3A || nonce || s2.
import { readFileSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { createFalcon1024 } from '@oqs/liboqs-js';
import { falcon1024 } from '@noble/post-quantum/falcon.js';

const hex = (u8) => Buffer.from(u8).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));

async function libs() {
  const oqs = await createFalcon1024();
  return {
    liboqs: {
      keygen: () => oqs.generateKeyPair(),
      sign: (msg, sk) => oqs.sign(msg, sk),
      verify: (sig, msg, pk) => {
        try { return oqs.verify(msg, sig, pk) === true; } catch { return false; }
      },
      close: () => oqs.destroy(),
    },
    noble: {
      keygen: () => falcon1024.keygen(),
      sign: (msg, sk) => falcon1024.sign(msg, sk),
      verify: (sig, msg, pk) => {
        try { return falcon1024.verify(sig, msg, pk) === true; } catch { return false; }
      },
      close: () => {},
    },
  };
}

async function main() {
  const [cmd, reqPath] = process.argv.slice(2);
  const req = JSON.parse(readFileSync(reqPath, 'utf8'));
  const L = await libs();
  let out;
  if (cmd === 'gen') {
    out = { libs: {} };
    for (const [name, lib] of Object.entries(L)) {
      const keys = [];
      const nkeys = typeof req.keys === 'number' ? req.keys : req.keys[name];
      for (let i = 0; i < nkeys; i++) keys.push(lib.keygen());
      const sigs = [];
      for (let i = 0; i < req.messages; i++) {
        const k = i % keys.length;
        const msg = randomBytes(randomInt(0, 1025));
        const sig = lib.sign(msg, keys[k].secretKey);
        sigs.push({ key: k, msg: hex(msg), sig: hex(sig) });
      }
      out.libs[name] = {
        keys: keys.map((k) => ({ pk: hex(k.publicKey), sk: hex(k.secretKey) })),
        sigs,
      };
    }
  } else if (cmd === 'verify') {
    out = {
      results: req.items.map((it) => {
        const lib = L[it.lib];
        if (!lib) throw new Error(`unknown library ${it.lib}`);
        return lib.verify(unhex(it.sig), unhex(it.msg), unhex(it.pk));
      }),
      sigs: (req.sign || []).map((it) => {
        const lib = L[it.lib];
        if (!lib) throw new Error(`unknown library ${it.lib}`);
        return hex(lib.sign(unhex(it.msg), unhex(it.sk)));
      }),
    };
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
  for (const lib of Object.values(L)) lib.close();
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
