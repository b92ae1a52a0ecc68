package ratchet

import (
	"crypto/subtle"
	"fmt"
	"slices"
)

// The skipped-message-key store (spec §4.3 SkipMessageKeysHE, §8.4;
// PROTOCOL.md §4.7): bounded, oldest first, changed only on commit.

type skippedKey struct {
	n  uint32
	mk [keySize]byte
}

// skippedChain holds the skipped message keys of one receiving chain,
// identified by its header key (spec §4: MKSKIPPED keyed by (HK, n)).
type skippedChain struct {
	hk   [keySize]byte
	keys []skippedKey
}

// pendingSkip collects the message keys a Decrypt would add to the skipped
// store; they are committed only if the message authenticates.
type pendingSkip struct {
	hk   [keySize]byte
	keys []skippedKey
}

func wipePending(p []pendingSkip) {
	for i := range p {
		clear(p[i].hk[:])
		for j := range p[i].keys {
			clear(p[i].keys[j].mk[:])
		}
	}
}

// skipTo advances the receiving chain of c up to (not including) until,
// recording the skipped keys (spec §4.3 SkipMessageKeysHE).
func (c *core) skipTo(until uint32, pending *[]pendingSkip) error {
	if !c.hasCKr || until <= c.nr {
		return nil
	}
	if uint64(until)-uint64(c.nr) > uint64(c.cfg.MaxSkip) {
		return fmt.Errorf("%w: %d messages skipped, MaxSkip %d", ErrTooManySkipped, until-c.nr, c.cfg.MaxSkip)
	}
	p := pendingSkip{hk: c.hkr, keys: make([]skippedKey, 0, until-c.nr)}
	for c.nr < until {
		mk, next := kdfCK(&c.ckr)
		p.keys = append(p.keys, skippedKey{n: c.nr, mk: mk})
		c.ckr = next
		c.nr++
	}
	*pending = append(*pending, p)
	return nil
}

// decryptSkipped decrypts a message whose key was stored as skipped under
// header key hk, and deletes that key on success.
func (s *Session) decryptSkipped(hk *[keySize]byte, h *header, w *wireMsg) ([]byte, error) {
	for i := range s.skipped {
		sc := &s.skipped[i]
		if subtle.ConstantTimeCompare(sc.hk[:], hk[:]) != 1 {
			continue
		}
		for j := range sc.keys {
			if sc.keys[j].n != h.n {
				continue
			}
			pt, err := openBody(&sc.keys[j].mk, w, s.st.ad)
			if err != nil {
				return nil, err
			}
			clear(sc.keys[j].mk[:])
			// slices.Delete zeroes the vacated tail slot, so no copy of a
			// key is left behind in the backing array.
			sc.keys = slices.Delete(sc.keys, j, j+1)
			s.nskip--
			if len(sc.keys) == 0 {
				clear(sc.hk[:])
				s.skipped = slices.Delete(s.skipped, i, i+1)
			}
			return pt, nil
		}
		break
	}
	return nil, ErrReplay
}

// commitSkipped adds pending skipped keys and evicts the oldest keys and
// chains beyond the bounds.
func (s *Session) commitSkipped(pending []pendingSkip) {
	for _, p := range pending {
		if len(p.keys) == 0 {
			continue
		}
		n := len(s.skipped)
		if n > 0 && subtle.ConstantTimeCompare(s.skipped[n-1].hk[:], p.hk[:]) == 1 {
			s.skipped[n-1].keys = append(s.skipped[n-1].keys, p.keys...)
		} else {
			s.skipped = append(s.skipped, skippedChain{hk: p.hk, keys: append([]skippedKey(nil), p.keys...)})
		}
		s.nskip += len(p.keys)
	}
	// Drop emptied chains, then evict the oldest keys beyond the total bound.
	for s.nskip > s.st.cfg.MaxSkippedKeys {
		sc := &s.skipped[0]
		clear(sc.keys[0].mk[:])
		sc.keys = sc.keys[1:]
		s.nskip--
		if len(sc.keys) == 0 {
			clear(sc.hk[:])
			s.skipped = s.skipped[1:]
		}
	}
	for len(s.skipped) > s.st.cfg.MaxSkippedChains {
		sc := &s.skipped[0]
		for j := range sc.keys {
			clear(sc.keys[j].mk[:])
		}
		s.nskip -= len(sc.keys)
		clear(sc.hk[:])
		s.skipped = s.skipped[1:]
	}
}
