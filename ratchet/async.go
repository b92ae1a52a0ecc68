package ratchet

import (
	"crypto/mlkem"
	"errors"
	"fmt"
	"sync"
)

// Background work (PROTOCOL.md §4.11). A DH ratchet step (spec §4.3
// DHRatchetHE) has a receiving half, which Decrypt needs to open the message
// (one X25519 and KDF_RK_HE), and a sending half, which only the next
// Encrypt needs (a new ratchet key pair, a second X25519, KDF_RK_HE, and at
// the PQ level an ML-KEM-1024 decapsulation, an encapsulation key to parse
// and encapsulate to, or a key pair to generate). Decrypt decides everything
// about the sending half under the session lock, hands its costly
// operations to a sendJob running on its own goroutine, and leaves the
// job in the state (core.pend). Whoever next needs the sending chain or the
// root key (Encrypt, MarshalBinary, the next DH step, Close) waits for the
// job and applies its results (core.finish), still under the lock. The
// job never takes the lock and touches nothing but its own fields, so the
// result is the state the synchronous algorithm computes, bit for bit.

// sendJob computes the costly parts of the sending half of a DH ratchet
// step. Inputs are set before it starts; outputs are valid once done is
// closed. Nothing in it is modified after done is closed except by wipe.
type sendJob struct {
	done chan struct{}

	// Inputs.
	src      keySource
	pool     *keyPool        // nil: draw keys from src
	wg       *sync.WaitGroup // the session's background goroutines
	peer     [32]byte        // DHr
	dhs      *xKey           // preset new ratchet key (GenerateKeys); nil: draw one
	dk       *mlkem.DecapsulationKey1024
	ct       []byte // decapsulate ct with dk (the peer answered our key)
	ekBytes  []byte // the peer's new encapsulation key, modulus-checked
	encNew   bool   // encapsulate to the key parsed from ekBytes
	encTo    *mlkem.EncapsulationKey1024
	encID    uint32 // id of the key encapsulated to
	genDK    bool   // our next ML-KEM key pair is needed
	presetDK *mlkem.DecapsulationKey1024

	// Outputs.
	newDHs *xKey
	dh     []byte // DH(newDHs, peer)
	ss     []byte // decapsulated secret: mixed into the sending chain's root step
	peerEK *mlkem.EncapsulationKey1024
	encSS  []byte
	encCT  []byte
	newDK  *mlkem.DecapsulationKey1024
	err    error
}

func (j *sendJob) kemWork() bool {
	return j.dk != nil || j.ekBytes != nil || j.encTo != nil
}

// run computes the job; with parallel set, the X25519 part and the ML-KEM
// part run on two goroutines. It closes done, then refills the key pool.
func (j *sendJob) run(parallel bool) {
	var dhErr, kemErr error
	if parallel && j.kemWork() {
		kemDone := make(chan struct{})
		go func() {
			kemErr = j.runKEM()
			close(kemDone)
		}()
		dhErr = j.runDH()
		<-kemDone
	} else {
		dhErr = j.runDH()
		kemErr = j.runKEM()
	}
	j.err = errors.Join(dhErr, kemErr)
	// Claim the pool slots to refill before the job is seen done: a later
	// step then waits for these keys instead of drawing its own, so keys
	// are drawn one at a time, in order.
	var x, dk *poolSlot
	pool := j.pool
	if pool != nil {
		x, dk = pool.claim(j.dhs == nil, j.genDK && j.presetDK == nil)
	}
	close(j.done)
	if pool != nil {
		pool.fill(x, dk)
	}
}

func (j *sendJob) runDH() error {
	k := j.dhs
	if k == nil {
		var err error
		if k, err = j.takeX(); err != nil {
			return err
		}
	}
	dh, err := k.dh(&j.peer)
	if err != nil {
		return fmt.Errorf("%w: ratchet key: %v", ErrProtocol, err)
	}
	j.newDHs, j.dh = k, dh
	if j.genDK {
		dk := j.presetDK
		if dk == nil {
			if dk, err = j.takeDK(); err != nil {
				return err
			}
		}
		j.newDK = dk
	}
	return nil
}

func (j *sendJob) runKEM() error {
	if j.dk != nil {
		ss, err := j.dk.Decapsulate(j.ct)
		if err != nil {
			return fmt.Errorf("%w: ML-KEM ciphertext: %v", ErrProtocol, err)
		}
		j.ss = ss
	}
	if j.ekBytes != nil {
		// ekModulusOK already accepted it, so this cannot fail.
		ek, err := mlkem.NewEncapsulationKey1024(j.ekBytes)
		if err != nil {
			return fmt.Errorf("%w: peer ML-KEM key: %v", ErrProtocol, err)
		}
		j.peerEK = ek
	}
	target := j.encTo
	if j.encNew {
		target = j.peerEK
	}
	if target != nil {
		ss, ct, err := j.src.encapsulate(target)
		if err != nil {
			return err
		}
		j.encSS, j.encCT = ss, ct
	}
	return nil
}

func (j *sendJob) takeX() (*xKey, error) {
	if j.pool != nil {
		return j.pool.takeX()
	}
	return j.src.newX25519()
}

func (j *sendJob) takeDK() (*mlkem.DecapsulationKey1024, error) {
	if j.pool != nil {
		return j.pool.takeDK()
	}
	return j.src.newMLKEM()
}

// start runs the job on a new goroutine tracked by j.wg.
func (j *sendJob) start() {
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		j.run(true)
	}()
}

// wipe waits for the job and zeroes the secrets it holds (once its results
// were applied, or when it is abandoned).
func (j *sendJob) wipe() {
	<-j.done
	clear(j.dh)
	clear(j.ss)
	clear(j.encSS)
	j.dh, j.ss, j.encSS = nil, nil, nil
	j.newDHs, j.newDK, j.dk, j.presetDK, j.dhs = nil, nil, nil, nil, nil
}

// wipeAll is wipe for a job whose new ratchet key is not in use (the job
// was abandoned, or a later step replaced the key): the key is zeroed too.
func (j *sendJob) wipeAll() {
	<-j.done
	if j.newDHs != nil {
		j.newDHs.wipe()
	}
	j.wipe()
}

// finish waits for the pending sending half of the last DH ratchet step, if
// any, and applies it to c: spec §4.3 DHRatchetHE's second KDF_RK_HE and the
// KEM choices of PROTOCOL.md §4.6 made when the step began. It does not
// modify the job, so a working copy may finish it and be discarded.
func (c *core) finish() error {
	j := c.pend
	if j == nil {
		return nil
	}
	<-j.done
	if j.err != nil {
		return j.err
	}
	rk, cks, nhks, err := kdfRK(&c.rk, j.dh, j.ss)
	if err != nil {
		return err
	}
	c.rk, c.cks, c.nhks = rk, cks, nhks
	clear(rk[:])
	clear(cks[:])
	clear(nhks[:])
	c.dhs = j.newDHs
	c.sendMixed = j.ss != nil
	if j.peerEK != nil && !j.encNew {
		c.peerEK = j.peerEK // kept for a later chain
	}
	if j.encNew || j.encTo != nil {
		copy(c.ssOut[:], j.encSS)
		c.ctOut, c.ctOutID, c.hasCt = j.encCT, j.encID, true
		c.peerEK, c.peerEKID = nil, 0
	}
	if j.genDK {
		c.myDK = j.newDK
	}
	c.pend = nil
	return nil
}

// keyPool keeps one X25519 key pair and, once the session has used one, one
// ML-KEM-1024 key pair generated ahead (Config.KeysAhead). Keys are drawn
// from the key source one at a time, in order, by a single filler, so a
// recording or replaying source sees the same sequence.
type keyPool struct {
	src    keySource
	wg     *sync.WaitGroup
	mu     sync.Mutex
	closed bool
	x      *poolSlot
	dk     *poolSlot
}

type poolSlot struct {
	ready chan struct{}
	x     *xKey
	dk    *mlkem.DecapsulationKey1024
	err   error
}

// claim installs empty slots for the requested keys and returns them for
// the caller to fill (nil for a slot not requested, already installed, or
// when the pool is closed). A take finds a claimed slot and waits for it.
func (p *keyPool) claim(x, dk bool) (xs, dks *poolSlot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil
	}
	if x && p.x == nil {
		xs = &poolSlot{ready: make(chan struct{})}
		p.x = xs
	}
	if dk && p.dk == nil {
		dks = &poolSlot{ready: make(chan struct{})}
		p.dk = dks
	}
	return xs, dks
}

// fill generates the keys of claimed slots in the calling goroutine.
func (p *keyPool) fill(x, dk *poolSlot) {
	if x != nil {
		x.x, x.err = p.src.newX25519()
		close(x.ready)
	}
	if dk != nil {
		dk.dk, dk.err = p.src.newMLKEM()
		close(dk.ready)
	}
}

// startFill claims slots and fills them on a goroutine tracked by p.wg.
func (p *keyPool) startFill(x, dk bool) {
	xs, dks := p.claim(x, dk)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.fill(xs, dks)
	}()
}

func (p *keyPool) take(slot **poolSlot) *poolSlot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := *slot
	*slot = nil
	return s
}

func (p *keyPool) takeX() (*xKey, error) {
	if s := p.take(&p.x); s != nil {
		<-s.ready
		return s.x, s.err
	}
	return p.src.newX25519()
}

func (p *keyPool) takeDK() (*mlkem.DecapsulationKey1024, error) {
	if s := p.take(&p.dk); s != nil {
		<-s.ready
		return s.dk, s.err
	}
	return p.src.newMLKEM()
}

// close stops further filling and drops the unused keys (after waiting for
// one being generated).
func (p *keyPool) close() {
	p.mu.Lock()
	p.closed = true
	x, dk := p.x, p.dk
	p.x, p.dk = nil, nil
	p.mu.Unlock()
	for _, s := range []*poolSlot{x, dk} {
		if s != nil {
			<-s.ready
			if s.x != nil {
				s.x.wipe()
			}
			s.x, s.dk = nil, nil
		}
	}
}

// Keys holds an initiator's first ratchet key pairs, generated before the
// session starts (Config.Keys): an X25519 key pair and, for the PQ level,
// an ML-KEM-1024 key pair. They are secret; a Keys value is used at most
// once.
type Keys struct {
	mu   sync.Mutex
	used bool
	x    *xKey
	dk   *mlkem.DecapsulationKey1024
}

// GenerateKeys generates the key pairs NewInitiator would otherwise
// generate itself: an X25519 key pair, and an ML-KEM-1024 key pair when pq
// is set. Call it while the connection is being set up and pass the result
// in Config.Keys.
func GenerateKeys(pq bool) (*Keys, error) {
	return generateKeys(pq, systemKeys{})
}

func generateKeys(pq bool, src keySource) (*Keys, error) {
	k := &Keys{}
	var err error
	if k.x, err = src.newX25519(); err != nil {
		return nil, err
	}
	if pq {
		if k.dk, err = src.newMLKEM(); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// take hands the keys out once.
func (k *Keys) take() (*xKey, *mlkem.DecapsulationKey1024, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.used {
		return nil, nil, errors.New("ratchet: Config.Keys already used by another session")
	}
	k.used = true
	x, dk := k.x, k.dk
	k.x, k.dk = nil, nil
	return x, dk, nil
}

// Wipe drops keys that were not used (for example when the connection
// failed before the session started); later use fails.
func (k *Keys) Wipe() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.used = true
	if k.x != nil {
		k.x.wipe()
	}
	k.x, k.dk = nil, nil
}

// ekModulusOK is FIPS 203 §7.2's encapsulation key check (the "modulus
// check") for ML-KEM-1024: every 12-bit coefficient of the encoded vector
// t̂ (the first 384·k bytes) is below q, i.e. ByteEncode12(ByteDecode12(t̂))
// = t̂. It is the only check crypto/mlkem's NewEncapsulationKey1024 makes on
// a key of the right length, so Decrypt can reject a bad key at once and
// leave the parsing (which expands the matrix Â) to the background job.
func ekModulusOK(ek []byte) bool {
	const q = 3329
	if len(ek) != KEMObjectSize {
		return false
	}
	for i := 0; i < 4*384; i += 3 {
		d1 := uint16(ek[i]) | uint16(ek[i+1]&0x0f)<<8
		d2 := uint16(ek[i+1]>>4) | uint16(ek[i+2])<<4
		if d1 >= q || d2 >= q {
			return false
		}
	}
	return true
}
