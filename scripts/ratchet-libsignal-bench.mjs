// Baseline for ratchet/ (issue 5): libsignal's own Double Ratchet (with its
// SPQR post-quantum ratchet, always on) through @signalapp/libsignal-client,
// on the same workloads as ratchet's Go benchmarks: 100-byte messages, one
// direction (encrypt, decrypt) and ping-pong (every message a ratchet step).
// Run by scripts/ratchet-libsignal-bench.sh; prints one JSON object.
//
//   node ratchet-libsignal-bench.mjs [seconds per workload]
import * as S from '@signalapp/libsignal-client';

const seconds = Number(process.argv[2] || 2);

class Sessions extends S.SessionStore {
  constructor() { super(); this.m = new Map(); }
  async saveSession(a, r) { this.m.set(a.toString(), r); }
  async getSession(a) { return this.m.get(a.toString()) ?? null; }
  async getExistingSessions(as) { return as.map((a) => this.m.get(a.toString())); }
}
class Identities extends S.IdentityKeyStore {
  constructor(kp, reg) { super(); this.kp = kp; this.reg = reg; this.m = new Map(); }
  async getIdentityKey() { return this.kp.privateKey; }
  async getLocalRegistrationId() { return this.reg; }
  async saveIdentity(a, k) { this.m.set(a.toString(), k); return S.IdentityChange.NewOrUnchanged; }
  async isTrustedIdentity() { return true; }
  async getIdentity(a) { return this.m.get(a.toString()) ?? null; }
}
class PreKeys extends S.PreKeyStore {
  constructor() { super(); this.m = new Map(); }
  async savePreKey(id, r) { this.m.set(id, r); }
  async getPreKey(id) { return this.m.get(id); }
  async removePreKey(id) { this.m.delete(id); }
}
class SignedPreKeys extends S.SignedPreKeyStore {
  constructor() { super(); this.m = new Map(); }
  async saveSignedPreKey(id, r) { this.m.set(id, r); }
  async getSignedPreKey(id) { return this.m.get(id); }
}
class KyberPreKeys extends S.KyberPreKeyStore {
  constructor() { super(); this.m = new Map(); }
  async saveKyberPreKey(id, r) { this.m.set(id, r); }
  async getKyberPreKey(id) { return this.m.get(id); }
  async markKyberPreKeyUsed() {}
}

function party(name, reg) {
  const kp = S.IdentityKeyPair.generate();
  return {
    addr: S.ProtocolAddress.new(name, 1), kp, reg,
    sessions: new Sessions(), ids: new Identities(kp, reg),
    pre: new PreKeys(), spk: new SignedPreKeys(), kyber: new KyberPreKeys(),
  };
}

async function establish() {
  const a = party('alice', 1), b = party('bob', 2);
  const pk = S.PrivateKey.generate(), spk = S.PrivateKey.generate();
  const kem = S.KEMKeyPair.generate();
  const spkSig = b.kp.privateKey.sign(spk.getPublicKey().serialize());
  const kemSig = b.kp.privateKey.sign(kem.getPublicKey().serialize());
  await b.pre.savePreKey(1, S.PreKeyRecord.new(1, pk.getPublicKey(), pk));
  await b.spk.saveSignedPreKey(1, S.SignedPreKeyRecord.new(1, Date.now(), spk.getPublicKey(), spk, spkSig));
  await b.kyber.saveKyberPreKey(1, S.KyberPreKeyRecord.new(1, Date.now(), kem, kemSig));
  const bundle = S.PreKeyBundle.new(b.reg, 1, 1, pk.getPublicKey(), 1, spk.getPublicKey(), spkSig,
    b.kp.publicKey, 1, kem.getPublicKey(), kemSig);
  await S.processPreKeyBundle(bundle, b.addr, a.addr, a.sessions, a.ids);
  const first = await S.signalEncrypt(new Uint8Array(100), b.addr, a.addr, a.sessions, a.ids);
  await S.signalDecryptPreKey(S.PreKeySignalMessage.deserialize(first.serialize()), a.addr, b.addr,
    b.sessions, b.ids, b.pre, b.spk, b.kyber);
  const reply = await S.signalEncrypt(new Uint8Array(100), a.addr, b.addr, b.sessions, b.ids);
  await decrypt(a, b, reply);
  return [a, b];
}

async function encrypt(from, to, msg) {
  return S.signalEncrypt(msg, to.addr, from.addr, from.sessions, from.ids);
}
async function decrypt(to, from, ct) {
  if (ct.type() !== S.CiphertextMessageType.Whisper) throw new Error('unexpected message type ' + ct.type());
  return S.signalDecrypt(S.SignalMessage.deserialize(ct.serialize()), from.addr, to.addr, to.sessions, to.ids);
}

const msg = new Uint8Array(100).fill(7);

async function oneWay() {
  const [a, b] = await establish();
  // Warm-up, then batches: time encrypts and decrypts separately.
  let encNs = 0n, decNs = 0n, n = 0, bytes = 0;
  const cpu0 = process.cpuUsage();
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const cts = [];
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) cts.push(await encrypt(a, b, msg));
    let t1 = process.hrtime.bigint();
    for (const ct of cts) await decrypt(b, a, ct);
    let t2 = process.hrtime.bigint();
    encNs += t1 - t0; decNs += t2 - t1; n += cts.length;
    for (const ct of cts) bytes += ct.serialize().length - msg.length;
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    oneway_cpu_us_per_msg: (cpu.user + cpu.system) / n,
    oneway_encrypt_per_s: n / (Number(encNs) / 1e9),
    oneway_decrypt_per_s: n / (Number(decNs) / 1e9),
    oneway_per_s: n / (Number(encNs + decNs) / 1e9),
    oneway_us_per_msg: Number(encNs + decNs) / 1e3 / n,
    overhead_bytes: bytes / n,
  };
}

async function pingPong() {
  let [x, y] = await establish();
  let n = 0, bytes = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    for (let i = 0; i < 50; i++) {
      const ct = await encrypt(x, y, msg);
      bytes += ct.serialize().length - msg.length;
      await decrypt(y, x, ct);
      [x, y] = [y, x];
      n++;
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  return {
    pingpong_per_s: n / (ns / 1e9), pingpong_overhead_bytes: bytes / n,
    pingpong_cpu_us_per_msg: (cpu.user + cpu.system) / n,
  };
}

const out = { libsignal: '0.103.0', node: process.version, ...(await oneWay()), ...(await pingPong()) };
console.log(JSON.stringify(out));
