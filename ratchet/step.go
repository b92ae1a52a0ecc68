package ratchet

import (
	"errors"
	"fmt"
	"math"
)

// The ratchet step: spec §4.3 DHRatchetHE extended with the ML-KEM-1024
// ratchet of PROTOCOL.md §4.6.

// KEM object kinds attached to message 0 of a sending chain.
const (
	objNone = 0
	objEK   = 1
	objCT   = 2
)

// decideKEM decides which KEM object message 0 of a new sending chain
// carries (PROTOCOL.md §4.6): none unless this is the PQInterval-th chain
// since the last one that could carry one; else, in this order: resend our
// unconfirmed ciphertext; encapsulate to the peer's newest key; resend our
// pending encapsulation key; generate a new key pair. The costly operation,
// if any, is left to j; core.finish applies its result.
func (c *core) decideKEM(j *sendJob) error {
	c.sendObj = objNone
	if !c.cfg.PQ {
		return nil
	}
	allowed := c.kemPhase == 0
	c.kemPhase = (c.kemPhase + 1) % uint32(c.cfg.PQInterval)
	if !allowed {
		return nil
	}
	switch {
	case c.hasCt:
		c.sendObj = objCT
	case j.ekBytes != nil:
		j.encNew, j.encID = true, c.peerEKID
		c.sendObj = objCT
	case c.peerEK != nil:
		j.encTo, j.encID = c.peerEK, c.peerEKID
		c.sendObj = objCT
	case c.myDK != nil:
		c.sendObj = objEK
	default:
		if c.nextKEMID == math.MaxUint32 {
			return ErrExhausted
		}
		c.nextKEMID++
		c.myDKID = c.nextKEMID
		j.genDK = true
		c.sendObj = objEK
	}
	return nil
}

// newJob returns a sending-half job for the session's key source and pool.
func (s *Session) newJob(peer *[32]byte) *sendJob {
	return &sendJob{src: s.src, pool: s.pool, wg: &s.bg, peer: *peer}
}

// ratchetRecv performs the DH ratchet step of spec §4.3 (DHRatchetHE) on c,
// extended with the KEM ratchet of PROTOCOL.md §4.6. It computes the
// receiving half at once and leaves the sending half in c.pend, running in
// the background (or, with Config.Synchronous, finished before it returns).
// c.pend must be nil. On error c.pend may hold a started job that the
// caller must wipe.
func (c *core) ratchetRecv(h *header, j *sendJob) error {
	if c.pend != nil {
		return errors.New("ratchet: internal error: DH step with a pending step")
	}
	if !c.cfg.PQ && h.flags != 0 {
		return fmt.Errorf("%w: KEM fields in a classic session", ErrProtocol)
	}
	if h.flags&flagMixed != 0 && !c.hasCt {
		return fmt.Errorf("%w: peer mixed a KEM secret that was never sent", ErrProtocol)
	}
	j.peer = h.dh

	// The KEM object, if this message (the first one accepted from the new
	// chain) carries one.
	switch {
	case h.flags&flagEK != 0:
		if h.kemID > c.lastPeer {
			if !ekModulusOK(h.obj) {
				return fmt.Errorf("%w: peer ML-KEM key: encapsulation key fails the FIPS 203 modulus check", ErrProtocol)
			}
			j.ekBytes = append([]byte(nil), h.obj...)
			c.peerEK, c.peerEKID, c.lastPeer = nil, h.kemID, h.kemID
		}
	case h.flags&flagCT != 0:
		if c.myDK != nil && h.kemID == c.myDKID {
			j.dk, j.ct = c.myDK, append([]byte(nil), h.obj...)
			c.myDK, c.myDKID = nil, 0
		}
	}
	var mixIn []byte
	if h.flags&flagMixed != 0 {
		mixIn = append([]byte(nil), c.ssOut[:]...)
		defer clear(mixIn)
		c.ctOut, c.ctOutID, c.hasCt = nil, 0, false
		clear(c.ssOut[:])
	}
	if err := c.decideKEM(j); err != nil {
		return err
	}
	j.prepare()
	if !c.cfg.Synchronous {
		j.start()
	}
	c.pend = j

	c.pn = c.ns
	c.ns, c.nr = 0, 0
	c.hks = c.nhks
	c.hkr, c.hasHKr = c.nhkr, true
	c.dhr, c.hasDHr = h.dh, true
	dh, err := c.dhs.dh(&h.dh)
	if err != nil {
		return fmt.Errorf("%w: ratchet key: %v", ErrProtocol, err)
	}
	c.rk, c.ckr, c.nhkr, err = kdfRK(&c.rk, dh, mixIn)
	clear(dh)
	if err != nil {
		return err
	}
	c.hasCKr = true
	c.dhs = nil // the old ratchet key has done its work: forget it now
	if c.cfg.Synchronous {
		err := c.finish()
		j.wipe()
		return err
	}
	return nil
}
