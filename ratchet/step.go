package ratchet

import (
	"crypto/ecdh"
	"crypto/mlkem"
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

// chooseKEM decides which KEM object message 0 of a new sending chain
// carries (PROTOCOL.md §4.6): none unless this is the PQInterval-th chain
// since the last one that could carry one; else, in this order: resend our
// unconfirmed ciphertext; encapsulate to the peer's newest key; resend our
// pending encapsulation key; generate a new key pair.
func (c *core) chooseKEM(src keySource) error {
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
	case c.peerEK != nil:
		ss, ct, err := src.encapsulate(c.peerEK)
		if err != nil {
			return err
		}
		copy(c.ssOut[:], ss)
		clear(ss)
		c.ctOut, c.ctOutID, c.hasCt = ct, c.peerEKID, true
		c.peerEK, c.peerEKID = nil, 0
		c.sendObj = objCT
	case c.myDK != nil:
		c.sendObj = objEK
	default:
		if c.nextKEMID == math.MaxUint32 {
			return ErrExhausted
		}
		dk, err := src.newMLKEM()
		if err != nil {
			return err
		}
		c.nextKEMID++
		c.myDK, c.myDKID = dk, c.nextKEMID
		c.sendObj = objEK
	}
	return nil
}

// ratchetRecv performs the DH ratchet step of spec §4.3 (DHRatchetHE) on c,
// extended with the KEM ratchet of PROTOCOL.md §4.6.
func (c *core) ratchetRecv(h *header, src keySource) error {
	if !c.cfg.PQ && h.flags != 0 {
		return fmt.Errorf("%w: KEM fields in a classic session", ErrProtocol)
	}
	var mixIn []byte
	if h.flags&flagMixed != 0 {
		if !c.hasCt {
			return fmt.Errorf("%w: peer mixed a KEM secret that was never sent", ErrProtocol)
		}
		mixIn = c.ssOut[:]
	}
	peerPub, err := ecdh.X25519().NewPublicKey(h.dh[:])
	if err != nil {
		return fmt.Errorf("%w: ratchet key: %v", ErrProtocol, err)
	}
	c.pn = c.ns
	c.ns, c.nr = 0, 0
	c.hks = c.nhks
	c.hkr, c.hasHKr = c.nhkr, true
	c.dhr, c.hasDHr = h.dh, true
	dh, err := c.dhs.ECDH(peerPub)
	if err != nil {
		return fmt.Errorf("%w: ratchet key: %v", ErrProtocol, err)
	}
	c.rk, c.ckr, c.nhkr, err = kdfRK(&c.rk, dh, mixIn)
	clear(dh)
	if err != nil {
		return err
	}
	c.hasCKr = true
	if mixIn != nil {
		c.ctOut, c.ctOutID, c.hasCt = nil, 0, false
		clear(c.ssOut[:])
	}

	// The KEM object, if this message (the first one accepted from the new
	// chain) carries one.
	var ss []byte
	switch {
	case h.flags&flagEK != 0:
		if h.kemID > c.lastPeer {
			ek, err := mlkem.NewEncapsulationKey1024(h.obj)
			if err != nil {
				return fmt.Errorf("%w: peer ML-KEM key: %v", ErrProtocol, err)
			}
			c.peerEK, c.peerEKID, c.lastPeer = ek, h.kemID, h.kemID
		}
	case h.flags&flagCT != 0:
		if c.myDK != nil && h.kemID == c.myDKID {
			ss, err = c.myDK.Decapsulate(h.obj)
			if err != nil {
				return fmt.Errorf("%w: ML-KEM ciphertext: %v", ErrProtocol, err)
			}
			defer clear(ss)
			c.myDK, c.myDKID = nil, 0
		}
	}

	if c.dhs, err = src.newX25519(); err != nil {
		return err
	}
	dh, err = c.dhs.ECDH(peerPub)
	if err != nil {
		return fmt.Errorf("%w: ratchet key: %v", ErrProtocol, err)
	}
	c.rk, c.cks, c.nhks, err = kdfRK(&c.rk, dh, ss)
	clear(dh)
	if err != nil {
		return err
	}
	c.sendMixed = ss != nil
	return c.chooseKEM(src)
}
