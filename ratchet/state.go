package ratchet

import (
	"encoding/binary"
	"fmt"
)

// State serialisation (docs/PROTOCOL.md §4.8). The encoding is secret:
// callers store it sealed (the vault does).
//
//	state   = magic "rtcR" ‖ version(1) ‖ flags(2) ‖ maxSkip(4) ‖ maxSkippedKeys(4) ‖
//	          maxSkippedChains(4) ‖ pqInterval(1) ‖ adLen(2) ‖ ad ‖ DHs(32) ‖ DHr(32) ‖
//	          RK ‖ CKs ‖ CKr ‖ HKs ‖ HKr ‖ NHKs ‖ NHKr (32 each) ‖ Ns(4) ‖ Nr(4) ‖ PN(4) ‖
//	          sendObj(1) ‖ nextKEMID(4) ‖ lastPeer(4) ‖ kemPhase(1) ‖
//	          [myDKID(4) ‖ dk seed(64)] ‖ [peerEKID(4) ‖ ek(1568)] ‖
//	          [ctOutID(4) ‖ ssOut(32) ‖ ct(1568)] ‖
//	          nChains(2) ‖ nChains × (HK(32) ‖ nKeys(4) ‖ nKeys × (n(4) ‖ MK(32)))
//
// Absent optional values (DHr, CKr, HKr) are all-zero; every flag bit, count
// and bound is checked, and trailing bytes are rejected.
const (
	stateMagic   = "rtcR"
	stateVersion = 1

	sfPQ = 1 << iota
	sfHasDHr
	sfHasCKr
	sfHasHKr
	sfSendMixed
	sfHasMyDK
	sfHasPeerEK
	sfHasCt
	sfMask = sfPQ | sfHasDHr | sfHasCKr | sfHasHKr | sfSendMixed | sfHasMyDK | sfHasPeerEK | sfHasCt
)

// MarshalBinary returns the versioned serialisation of the session state.
// It contains every secret of the session.
func (s *Session) MarshalBinary() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if !s.st.ready() {
		return nil, ErrUninitialised
	}
	if err := s.settleLocked(); err != nil {
		return nil, err
	}
	c := &s.st
	var flags uint16
	set := func(b bool, f uint16) {
		if b {
			flags |= f
		}
	}
	set(c.cfg.PQ, sfPQ)
	set(c.hasDHr, sfHasDHr)
	set(c.hasCKr, sfHasCKr)
	set(c.hasHKr, sfHasHKr)
	set(c.sendMixed, sfSendMixed)
	set(c.myDK != nil, sfHasMyDK)
	set(c.peerEK != nil, sfHasPeerEK)
	set(c.hasCt, sfHasCt)

	b := make([]byte, 0, 512+len(c.ad)+3*KEMObjectSize+s.nskip*36+len(s.skipped)*36)
	b = append(b, stateMagic...)
	b = append(b, stateVersion)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(c.cfg.MaxSkip))
	b = binary.BigEndian.AppendUint32(b, uint32(c.cfg.MaxSkippedKeys))
	b = binary.BigEndian.AppendUint32(b, uint32(c.cfg.MaxSkippedChains))
	b = append(b, byte(c.cfg.PQInterval))
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.ad)))
	b = append(b, c.ad...)
	b = append(b, c.dhs.priv[:]...)
	b = append(b, c.dhr[:]...)
	for _, k := range []*[keySize]byte{&c.rk, &c.cks, &c.ckr, &c.hks, &c.hkr, &c.nhks, &c.nhkr} {
		b = append(b, k[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, c.ns)
	b = binary.BigEndian.AppendUint32(b, c.nr)
	b = binary.BigEndian.AppendUint32(b, c.pn)
	b = append(b, c.sendObj)
	b = binary.BigEndian.AppendUint32(b, c.nextKEMID)
	b = binary.BigEndian.AppendUint32(b, c.lastPeer)
	b = append(b, byte(c.kemPhase))
	if c.myDK != nil {
		b = binary.BigEndian.AppendUint32(b, c.myDKID)
		b = append(b, c.myDK.seed[:]...)
	}
	if c.peerEK != nil {
		b = binary.BigEndian.AppendUint32(b, c.peerEKID)
		b = append(b, c.peerEK.raw...)
	}
	if c.hasCt {
		b = binary.BigEndian.AppendUint32(b, c.ctOutID)
		b = append(b, c.ssOut[:]...)
		b = append(b, c.ctOut...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.skipped)))
	for _, sc := range s.skipped {
		b = append(b, sc.hk[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(sc.keys)))
		for _, k := range sc.keys {
			b = binary.BigEndian.AppendUint32(b, k.n)
			b = append(b, k.mk[:]...)
		}
	}
	return b, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrBadState}, a...)...)
	}
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("truncated in %s", what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(what string) byte {
	v := r.take(1, what)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) u16(what string) uint16 {
	v := r.take(2, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (r *reader) u32(what string) uint32 {
	v := r.take(4, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *reader) key(dst *[keySize]byte, what string) {
	if v := r.take(keySize, what); v != nil {
		copy(dst[:], v)
	}
}

func isZero(b []byte) bool {
	var acc byte
	for _, x := range b {
		acc |= x
	}
	return acc == 0
}

// Unmarshal restores a Session from MarshalBinary's output. The decoder is
// strict and bounded: any malformed, inconsistent or over-long input fails
// with an error wrapping ErrBadState.
func Unmarshal(data []byte) (*Session, error) {
	return unmarshal(data, systemKeys{})
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces s's
// state (wiping the old one) with the decoded one, or leaves s unchanged
// on error.
func (s *Session) UnmarshalBinary(data []byte) error {
	n, err := unmarshal(data, systemKeys{})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wipeLocked()
	s.st, s.skipped, s.nskip, s.src, s.closed = n.st, n.skipped, n.nskip, n.src, false
	return nil
}

func unmarshal(data []byte, src keySource) (*Session, error) {
	r := &reader{b: data}
	if m := r.take(len(stateMagic), "magic"); m == nil || string(m) != stateMagic {
		return nil, fmt.Errorf("%w: not a ratchet state (bad magic)", ErrBadState)
	}
	if v := r.u8("version"); v != stateVersion {
		return nil, fmt.Errorf("%w: unknown state version %d", ErrBadState, v)
	}
	flags := r.u16("flags")
	if flags&^sfMask != 0 {
		r.fail("unknown flags %#x", flags)
	}
	s := &Session{src: src}
	c := &s.st
	c.cfg.PQ = flags&sfPQ != 0
	c.cfg.MaxSkip = int(r.u32("MaxSkip"))
	c.cfg.MaxSkippedKeys = int(r.u32("MaxSkippedKeys"))
	c.cfg.MaxSkippedChains = int(r.u32("MaxSkippedChains"))
	c.cfg.PQInterval = int(r.u8("PQInterval"))
	if r.err == nil {
		if c.cfg.MaxSkip < 1 || c.cfg.MaxSkip > limitMaxSkip ||
			c.cfg.MaxSkippedKeys < 1 || c.cfg.MaxSkippedKeys > limitMaxSkippedKeys ||
			c.cfg.MaxSkippedChains < 1 || c.cfg.MaxSkippedChains > limitMaxSkippedChains ||
			c.cfg.PQInterval < 1 || c.cfg.PQInterval > limitPQInterval {
			r.fail("bounds out of range")
		}
	}
	adLen := int(r.u16("AD length"))
	if adLen > MaxADSize {
		r.fail("AD of %d bytes exceeds %d", adLen, MaxADSize)
	}
	if ad := r.take(adLen, "AD"); ad != nil {
		c.ad = append([]byte(nil), ad...)
	}
	dhs := r.take(32, "DHs")
	if v := r.take(32, "DHr"); v != nil {
		copy(c.dhr[:], v)
	}
	c.hasDHr = flags&sfHasDHr != 0
	c.hasCKr = flags&sfHasCKr != 0
	c.hasHKr = flags&sfHasHKr != 0
	r.key(&c.rk, "RK")
	r.key(&c.cks, "CKs")
	r.key(&c.ckr, "CKr")
	r.key(&c.hks, "HKs")
	r.key(&c.hkr, "HKr")
	r.key(&c.nhks, "NHKs")
	r.key(&c.nhkr, "NHKr")
	if r.err == nil {
		if !c.hasDHr && !isZero(c.dhr[:]) || !c.hasCKr && !isZero(c.ckr[:]) || !c.hasHKr && !isZero(c.hkr[:]) {
			r.fail("absent key is not zero")
		}
		if c.hasCKr != c.hasHKr || c.hasCKr != c.hasDHr {
			r.fail("inconsistent receiving chain flags")
		}
	}
	c.ns = r.u32("Ns")
	c.nr = r.u32("Nr")
	c.pn = r.u32("PN")
	c.sendMixed = flags&sfSendMixed != 0
	c.sendObj = r.u8("sendObj")
	c.nextKEMID = r.u32("nextKEMID")
	c.lastPeer = r.u32("lastPeer")
	c.kemPhase = uint32(r.u8("kemPhase"))
	if r.err == nil && c.kemPhase >= uint32(c.cfg.PQInterval) {
		r.fail("KEM phase %d not below PQInterval %d", c.kemPhase, c.cfg.PQInterval)
	}
	// The ML-KEM keys are expanded only once the whole input has parsed
	// (expansion is the expensive part of decoding).
	var dkSeed, peerEK []byte
	if flags&sfHasMyDK != 0 {
		c.myDKID = r.u32("myDKID")
		dkSeed = r.take(kemSeedSize, "ML-KEM seed")
		if r.err == nil && (c.myDKID == 0 || c.myDKID > c.nextKEMID) {
			r.fail("ML-KEM key id %d out of range", c.myDKID)
		}
	}
	if flags&sfHasPeerEK != 0 {
		c.peerEKID = r.u32("peerEKID")
		peerEK = r.take(KEMObjectSize, "peer ML-KEM key")
		if r.err == nil && (c.peerEKID == 0 || c.peerEKID > c.lastPeer) {
			r.fail("peer ML-KEM key id %d out of range", c.peerEKID)
		}
	}
	if flags&sfHasCt != 0 {
		c.hasCt = true
		c.ctOutID = r.u32("ctOutID")
		r.key(&c.ssOut, "KEM secret")
		if v := r.take(KEMObjectSize, "KEM ciphertext"); v != nil {
			c.ctOut = append([]byte(nil), v...)
		}
		if r.err == nil && c.ctOutID == 0 {
			r.fail("KEM ciphertext id 0")
		}
	}
	if r.err == nil {
		if !c.cfg.PQ && (flags&(sfSendMixed|sfHasMyDK|sfHasPeerEK|sfHasCt) != 0 || c.sendObj != objNone || c.nextKEMID != 0 || c.lastPeer != 0 || c.kemPhase != 0) {
			r.fail("KEM state in a classic session")
		}
		switch c.sendObj {
		case objNone:
		case objEK:
			if dkSeed == nil {
				r.fail("sendObj EK without a key")
			}
		case objCT:
			if !c.hasCt {
				r.fail("sendObj CT without a ciphertext")
			}
		default:
			r.fail("unknown sendObj %d", c.sendObj)
		}
	}
	nChains := int(r.u16("chain count"))
	if r.err == nil && nChains > c.cfg.MaxSkippedChains {
		r.fail("%d skipped chains exceed bound %d", nChains, c.cfg.MaxSkippedChains)
	}
	for i := 0; i < nChains && r.err == nil; i++ {
		var sc skippedChain
		r.key(&sc.hk, "skipped HK")
		n := int(r.u32("skipped key count"))
		if r.err != nil {
			break
		}
		if n == 0 || n > c.cfg.MaxSkippedKeys-s.nskip {
			r.fail("skipped key count %d out of range", n)
			break
		}
		if len(r.b) < n*(4+keySize) {
			r.fail("truncated in skipped keys")
			break
		}
		sc.keys = make([]skippedKey, n)
		for j := range sc.keys {
			sc.keys[j].n = r.u32("skipped n")
			r.key(&sc.keys[j].mk, "skipped MK")
			if j > 0 && sc.keys[j].n <= sc.keys[j-1].n {
				r.fail("skipped keys out of order")
			}
		}
		for _, prev := range s.skipped {
			if prev.hk == sc.hk {
				r.fail("duplicate skipped chain")
			}
		}
		s.skipped = append(s.skipped, sc)
		s.nskip += n
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err == nil {
		k, err := newXKey(dhs)
		if err != nil {
			r.fail("DHs: %v", err)
		}
		c.dhs = k
	}
	if r.err == nil && dkSeed != nil {
		dk, err := newKEMDK(dkSeed)
		if err != nil {
			r.fail("ML-KEM key: %v", err)
		}
		c.myDK = dk
	}
	if r.err == nil && peerEK != nil {
		ek, err := parseKEMEK(peerEK)
		if err != nil {
			r.fail("peer ML-KEM key: %v", err)
		}
		c.peerEK = ek
	}
	if r.err != nil {
		s.wipeLocked()
		return nil, r.err
	}
	return s, nil
}
