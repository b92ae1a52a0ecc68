package ratchet

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// task is a piece of background work that runs exactly once: on its own
// goroutine if a processor is free to pick it up, or else in the first
// caller that needs its result (wait), so nobody ever waits for a thread to
// be scheduled. cancel drops it if it has not started.
type task struct {
	state atomic.Uint32 // 0 not started, 1 claimed
	done  chan struct{}
	fn    func()
}

func newTask(fn func()) *task {
	return &task{done: make(chan struct{}), fn: fn}
}

func (t *task) tryRun() {
	if t.state.CompareAndSwap(0, 1) {
		t.fn()
		close(t.done)
	}
}

// spawn offers the task to another goroutine, tracked by wg.
func (t *task) spawn(wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t.tryRun()
	}()
}

// wait runs the task here if nobody has started it, else waits for it.
func (t *task) wait() {
	t.tryRun()
	<-t.done
}

// cancel keeps the task from running if it has not started and waits for
// it otherwise. It reports whether the task ran.
func (t *task) cancel() bool {
	if t.state.CompareAndSwap(0, 1) {
		close(t.done)
		return false
	}
	<-t.done
	return true
}

// sendJob computes the costly parts of the sending half of a DH ratchet
// step in two tasks: the X25519 part (a new ratchet key pair, the second
// DH, our next ML-KEM key pair if needed) and the ML-KEM part (decapsulate,
// parse the peer's new key, encapsulate). Inputs are set before the tasks
// are created; each task's outputs are valid once it is done.
type sendJob struct {
	dhT, kemT *task

	// Inputs.
	src      keySource
	pool     *keyPool        // nil: draw keys from src
	wg       *sync.WaitGroup // the session's background goroutines
	peer     [32]byte        // DHr
	dhs      *xKey           // preset new ratchet key (GenerateKeys); nil: draw one
	dk       *kemDK
	ct       []byte // decapsulate ct with dk (the peer answered our key)
	ekBytes  []byte // the peer's new encapsulation key, modulus-checked
	encNew   bool   // encapsulate to the key parsed from ekBytes
	encTo    *kemEK
	encID    uint32 // id of the key encapsulated to
	genDK    bool   // our next ML-KEM key pair is needed
	presetDK *kemDK

	// Outputs of the X25519 part.
	newDHs *xKey
	dh     []byte // DH(newDHs, peer)
	newDK  *kemDK
	dhErr  error
	// Outputs of the ML-KEM part.
	ss     []byte // decapsulated secret: mixed into the sending chain's root step
	peerEK *kemEK
	encSS  []byte
	encCT  []byte
	kemErr error
}

// prepare creates the job's tasks once its inputs are set.
func (j *sendJob) prepare() {
	j.dhT = newTask(func() { j.dhErr = j.runDH() })
	j.kemT = newTask(func() { j.kemErr = j.runKEM() })
}

// start offers the tasks to other goroutines (Decrypt, which then computes
// the receiving half itself).
func (j *sendJob) start() {
	j.dhT.spawn(j.wg)
	if j.dk != nil || j.ekBytes != nil || j.encTo != nil {
		j.kemT.spawn(j.wg)
	}
}

// wait completes the job (running in the caller what has not started) and
// returns its error.
func (j *sendJob) wait() error {
	j.dhT.wait()
	j.kemT.wait()
	return errors.Join(j.dhErr, j.kemErr)
}

func (j *sendJob) runDH() error {
	k := j.dhs
	if k == nil {
		var err error
		if k, err = j.takeX(); err != nil {
			return err
		}
	}
	j.newDHs = k
	dh, err := k.dh(&j.peer)
	if err != nil {
		return fmt.Errorf("%w: ratchet key: %v", ErrProtocol, err)
	}
	j.dh = dh
	if j.genDK {
		dk := j.presetDK
		if dk == nil {
			var err error
			if dk, err = j.takeDK(); err != nil {
				return err
			}
		}
		j.newDK = dk
	}
	if j.pool != nil {
		// Refill what this step took before the step can be seen done: a
		// later step then finds the slot and waits for that key rather
		// than drawing its own, so keys are drawn one at a time, in order.
		j.pool.refill(j.dhs == nil, j.genDK && j.presetDK == nil)
	}
	return nil
}

func (j *sendJob) runKEM() error {
	if j.dk != nil {
		ss, err := j.dk.decapsulate(j.ct)
		if err != nil {
			return fmt.Errorf("%w: ML-KEM ciphertext: %v", ErrProtocol, err)
		}
		j.ss = ss
	}
	if j.ekBytes != nil {
		// ekModulusOK already accepted it, so this cannot fail.
		ek, err := parseKEMEK(j.ekBytes)
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

func (j *sendJob) takeDK() (*kemDK, error) {
	if j.pool != nil {
		return j.pool.takeDK()
	}
	return j.src.newMLKEM()
}

// wipe completes the job and zeroes the secrets it holds (once its results
// were applied).
func (j *sendJob) wipe() {
	j.dhT.wait()
	j.kemT.wait()
	clear(j.dh)
	clear(j.ss)
	clear(j.encSS)
	j.dh, j.ss, j.encSS = nil, nil, nil
	j.newDHs, j.newDK, j.dk, j.presetDK, j.dhs = nil, nil, nil, nil, nil
}

// wipeAll is for a job whose new ratchet key is not in use (the job was
// abandoned, or a later step replaced the key): work not yet started is
// dropped, and the key is zeroed too.
func (j *sendJob) wipeAll() {
	j.dhT.cancel()
	j.kemT.cancel()
	if j.newDHs != nil {
		j.newDHs.wipe()
	}
	j.wipe()
}

// finish completes the pending sending half of the last DH ratchet step, if
// any, and applies it to c: spec §4.3 DHRatchetHE's second KDF_RK_HE and the
// KEM choices of PROTOCOL.md §4.6 made when the step began. It does not
// modify the job's results, so a working copy may finish it and be
// discarded.
func (c *core) finish() error {
	j := c.pend
	if j == nil {
		return nil
	}
	if err := j.wait(); err != nil {
		return err
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
// from the key source one at a time, in order, so a recording or replaying
// source sees the same sequence.
type keyPool struct {
	src    keySource
	wg     *sync.WaitGroup
	mu     sync.Mutex
	closed bool
	x      *poolSlot
	dk     *poolSlot
}

type poolSlot struct {
	t   *task
	x   *xKey
	dk  *kemDK
	err error
}

// refill installs slots for the requested keys (unless installed already
// or the pool is closed) and offers their generation to other goroutines;
// a take finds an installed slot and waits for it, or generates it itself.
func (p *keyPool) refill(x, dk bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if x && p.x == nil {
		sl := &poolSlot{}
		sl.t = newTask(func() { sl.x, sl.err = p.src.newX25519() })
		p.x = sl
		sl.t.spawn(p.wg)
	}
	if dk && p.dk == nil {
		sl := &poolSlot{}
		sl.t = newTask(func() { sl.dk, sl.err = p.src.newMLKEM() })
		p.dk = sl
		sl.t.spawn(p.wg)
	}
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
		s.t.wait()
		return s.x, s.err
	}
	return p.src.newX25519()
}

func (p *keyPool) takeDK() (*kemDK, error) {
	if s := p.take(&p.dk); s != nil {
		s.t.wait()
		return s.dk, s.err
	}
	return p.src.newMLKEM()
}

// close stops further filling and drops the unused keys (generation not
// yet started is cancelled; a key being generated is waited for).
func (p *keyPool) close() {
	p.mu.Lock()
	p.closed = true
	x, dk := p.x, p.dk
	p.x, p.dk = nil, nil
	p.mu.Unlock()
	for _, s := range []*poolSlot{x, dk} {
		if s != nil && s.t.cancel() {
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
	dk   *kemDK
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
func (k *Keys) take() (*xKey, *kemDK, error) {
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
	if k.dk != nil {
		k.dk.wipe()
	}
	k.x, k.dk = nil, nil
}
