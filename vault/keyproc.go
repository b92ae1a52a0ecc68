package vault

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rtcchat/rtcchat/handshake"
)

// Key process protocol, version 1 (docs/PROTOCOL.md §5.6).
//
// The chat process (the one that talks to the network) never holds the
// identity secret keys. It starts the key process (`rtcchat __keyproc`, the
// same binary) with two pipes: requests go to the key process's stdin, replies
// come from its stdout. Every message is a frame:
//
//	length u16 (1..MaxKeyProcFrame) | type u8 | body
//
// Requests and their exact bodies:
//
//	0x01 unlock  version u8 (=1) | flags u8 (bit 0: create the identity if
//	             missing; bit 1: seal a new identity with the OS keyring) |
//	             Argon2id time u32 | memory KiB u32 | threads u8 |
//	             passphrase length u16 (0..1024) | passphrase
//	0x02 sign    level u8 (1..3) | transcript hash [32]
//	0x03 dh      peer X25519 public key [32]
//
// Replies: 0x81 unlocked: created u8 | public identity length u16 | public
// identity | storage key [32]; 0x82 signed: Ed25519 signature length u16 |
// signature | FALCON-1024 signature length u16 | signature (length 0 below the
// quantum level); 0x83 dh: shared secret [32]; 0xFF error: code u8 | message.
//
// The key process answers nothing else: it signs only the handshake's
// domain-separated transcript hash (handshake.Identity.SignBundle prefixes its
// label and accepts exactly 32 bytes), never arbitrary data, and no request
// returns a secret key. A frame with a bad length ends the key process (the
// stream cannot be trusted any more); a well-framed but invalid request gets an
// error reply. End of input ends the key process.
const (
	MaxKeyProcFrame = 4096
	maxPassphrase   = 1024

	kpUnlock   = 0x01
	kpSign     = 0x02
	kpDH       = 0x03
	kpUnlocked = 0x81
	kpSigned   = 0x82
	kpDHResult = 0x83
	kpError    = 0xFF

	kpFlagCreate  = 1 << 0
	kpFlagKeyring = 1 << 1

	kpVersion = 1
)

// Error codes in 0xFF replies.
const (
	kpErrMalformed       = 1
	kpErrNotUnlocked     = 2
	kpErrWrongPass       = 3
	kpErrNoIdentity      = 4
	kpErrFailed          = 5
	kpErrAlreadyUnlocked = 6
)

// KeyProcessCommand is the hidden subcommand that runs the key process.
const KeyProcessCommand = "__keyproc"

func writeFrame(w io.Writer, typ byte, body []byte) error {
	if 1+len(body) > MaxKeyProcFrame {
		return fmt.Errorf("key process frame of %d bytes exceeds %d", 1+len(body), MaxKeyProcFrame)
	}
	buf := make([]byte, 3+len(body))
	binary.BigEndian.PutUint16(buf, uint16(1+len(body)))
	buf[2] = typ
	copy(buf[3:], body)
	_, err := w.Write(buf)
	wipe(buf)
	return err
}

// readFrame reads one frame into buf (at least MaxKeyProcFrame bytes).
func readFrame(r io.Reader, buf []byte) (typ byte, body []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n < 1 || n > MaxKeyProcFrame {
		return 0, nil, errFrameLength(n)
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return buf[0], buf[1:n], nil
}

type errFrameLength int

func (e errFrameLength) Error() string {
	return fmt.Sprintf("key process frame length %d outside 1..%d", int(e), MaxKeyProcFrame)
}

// ServeKeyProcess runs the key process on in/out until in ends or a frame is
// malformed. It hardens the process first (no core dumps, not dumpable).
// opts.Keyring is used for identities sealed with the keyring and, when the
// unlock request asks for it, to seal a new one.
func ServeKeyProcess(in io.Reader, out io.Writer, home string, opts Options) error {
	HardenProcess()
	watchParent()
	v, err := Open(home, opts)
	if err != nil {
		writeErr(out, kpErrFailed, err)
		return err
	}
	defer v.Close()
	s := &keyServer{v: v, out: out}
	defer s.destroy()
	buf := newSecret(MaxKeyProcFrame)
	defer buf.Destroy()
	br := bufio.NewReaderSize(in, MaxKeyProcFrame+2)
	for {
		typ, body, err := readFrame(br, buf.Bytes())
		if err == io.EOF {
			return nil
		}
		if err != nil {
			writeErr(out, kpErrMalformed, err)
			v.log.RejectedInput("key process request", err)
			return err
		}
		if err := s.handle(typ, body); err != nil {
			return err
		}
		wipe(body)
	}
}

type keyServer struct {
	v   *Vault
	out io.Writer
	id  *handshake.Identity
}

func (s *keyServer) destroy() {
	if s.id != nil {
		s.id.Destroy()
	}
}

func writeErr(w io.Writer, code byte, err error) error {
	msg := err.Error()
	if len(msg) > 512 {
		msg = msg[:512]
	}
	return writeFrame(w, kpError, append([]byte{code}, msg...))
}

// handle answers one request. It returns an error only when the reply cannot
// be written (the chat process is gone).
func (s *keyServer) handle(typ byte, body []byte) error {
	reject := func(code byte, err error) error {
		if code == kpErrMalformed {
			s.v.log.RejectedInput("key process request", err)
		}
		return writeErr(s.out, code, err)
	}
	switch typ {
	case kpUnlock:
		if s.id != nil {
			return reject(kpErrAlreadyUnlocked, errors.New("already unlocked"))
		}
		r := reader{b: body}
		ver, flags := r.u8(), r.u8()
		argon := Argon2Params{Time: r.u32(), MemoryKiB: r.u32(), Threads: r.u8()}
		pass := r.bytes(int(r.u16()))
		switch {
		case r.err != nil:
			return reject(kpErrMalformed, errors.New("unlock request truncated"))
		case r.left() != 0:
			return reject(kpErrMalformed, fmt.Errorf("unlock request has %d trailing bytes", r.left()))
		case ver != kpVersion:
			return reject(kpErrMalformed, fmt.Errorf("unlock request version %d, want %d", ver, kpVersion))
		case flags&^(kpFlagCreate|kpFlagKeyring) != 0:
			return reject(kpErrMalformed, fmt.Errorf("unlock request has unknown flags %#x", flags))
		case len(pass) > maxPassphrase:
			return reject(kpErrMalformed, fmt.Errorf("passphrase longer than %d bytes", maxPassphrase))
		}
		if err := argon.validate(); err != nil {
			return reject(kpErrMalformed, err)
		}
		return s.unlock(flags, argon, pass)
	case kpSign:
		if len(body) != 1+32 {
			return reject(kpErrMalformed, fmt.Errorf("sign request of %d bytes, want 33 (level, 32-byte transcript hash)", len(body)))
		}
		level := handshake.Level(body[0])
		if !level.Valid() {
			return reject(kpErrMalformed, fmt.Errorf("sign request for unknown level %d", body[0]))
		}
		if s.id == nil {
			return reject(kpErrNotUnlocked, errors.New("not unlocked"))
		}
		ed, pq, err := s.id.SignBundle(body[1:], level)
		if err != nil {
			return reject(kpErrFailed, err)
		}
		var b []byte
		b = binary.BigEndian.AppendUint16(b, uint16(len(ed)))
		b = append(b, ed...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(pq)))
		b = append(b, pq...)
		return writeFrame(s.out, kpSigned, b)
	case kpDH:
		if len(body) != 32 {
			return reject(kpErrMalformed, fmt.Errorf("dh request of %d bytes, want 32", len(body)))
		}
		if s.id == nil {
			return reject(kpErrNotUnlocked, errors.New("not unlocked"))
		}
		shared, err := s.id.IdentityDH(body)
		if err != nil {
			return reject(kpErrFailed, err)
		}
		err = writeFrame(s.out, kpDHResult, shared)
		wipe(shared)
		return err
	}
	return reject(kpErrMalformed, fmt.Errorf("unknown request type %#02x", typ))
}

func (s *keyServer) unlock(flags byte, argon Argon2Params, pass []byte) error {
	v := s.v
	created := byte(0)
	passFn := func(string, bool) ([]byte, error) {
		if len(pass) == 0 {
			return nil, fmt.Errorf("a passphrase is needed (set %s or run in a terminal)", PassphraseEnv)
		}
		return bytes.Clone(pass), nil
	}
	has, err := v.HasIdentity()
	if err != nil {
		return writeErr(s.out, kpErrFailed, err)
	}
	if !has {
		if flags&kpFlagCreate == 0 {
			return writeErr(s.out, kpErrNoIdentity, fmt.Errorf("%s: %w", v.IdentityPath(), ErrNoIdentity))
		}
		if flags&kpFlagKeyring == 0 {
			v.opts.Keyring = nil
		}
		v.opts.Argon2 = argon
		// Created here, in the key process; then unsealed again below,
		// which also proves the new file reads back.
		if _, err := v.CreateIdentity(passFn); err != nil {
			return writeErr(s.out, kpErrFailed, err)
		}
		created = 1
	}
	ident, sk, label, err := v.unsealIdentity(passFn)
	if err != nil {
		code := byte(kpErrFailed)
		if errors.Is(err, ErrWrongPassphrase) {
			code = kpErrWrongPass
		}
		return writeErr(s.out, code, err)
	}
	defer sk.Destroy()
	id, err := parseIdentity(ident.Bytes())
	ident.Destroy()
	if err != nil {
		return writeErr(s.out, kpErrFailed, &FileError{Path: v.IdentityPath(), Problem: "holds an invalid identity", Err: err})
	}
	pub := id.Public().Bytes()
	if !bytes.Equal(pub, label) {
		id.Destroy()
		return writeErr(s.out, kpErrFailed, &FileError{Path: v.IdentityPath(), Problem: "has a public identity that does not match its secret keys"})
	}
	// Expand the FALCON-1024 signing key now (about 0.7 ms, beside the
	// Argon2 unlock) rather than on the first handshake's signature. A key
	// that cannot expand fails its first signature with the reason.
	_ = id.Precompute()
	s.id = id
	v.log.Record(Event{Kind: EventKeyProcess, Peer: FingerprintOf(id.Public()).Hex(), Result: "unlocked"})
	b := []byte{created}
	b = binary.BigEndian.AppendUint16(b, uint16(len(pub)))
	b = append(b, pub...)
	b = append(b, sk.Bytes()...)
	err = writeFrame(s.out, kpUnlocked, b)
	wipe(b)
	return err
}

// watchParent ends the key process when the chat process is gone even if the
// key process is busy (say, generating a key) and does not see its input
// close: it runs in its own process group, so a Ctrl-C does not reach it.
func watchParent() {
	ppid := os.Getppid()
	if p, err := strconv.Atoi(os.Getenv(keyProcParentEnv)); err == nil && p > 1 {
		ppid = p // the parent may already be gone by the time we look
	}
	if ppid <= 1 {
		return
	}
	go func() {
		for {
			if os.Getppid() != ppid {
				os.Exit(3)
			}
			time.Sleep(time.Second)
		}
	}()
}

// keyProcParentEnv carries the chat process's pid to the key process.
const keyProcParentEnv = "RTCCHAT_KEYPROC_PARENT"

// KeyProcessOptions configure StartKeyProcess.
type KeyProcessOptions struct {
	// Command is the key process's argv (default: this executable and
	// KeyProcessCommand). "--home HOME" is appended.
	Command []string
	// Env is the key process's environment (default: this process's,
	// without RTCCHAT_PASSPHRASE; the passphrase travels over the pipe).
	Env []string
	// Passphrase is asked when the identity is passphrase-sealed (or a new
	// one is created without a keyring).
	Passphrase Passphrase
	// Create makes a new identity if there is none.
	Create bool
	// Stderr receives the key process's diagnostics (default os.Stderr).
	Stderr io.Writer
	// Attempts is how often a wrong passphrase may be entered before
	// StartKeyProcess gives up (values below 1 mean 1). Useful only with an
	// interactive Passphrase.
	Attempts int
}

// KeyProcess is the chat process's handle on the isolated key process. It
// implements handshake.Signer: Public, SignBundle and IdentityDH are forwarded
// over the pipe. It exposes no way to obtain a secret key. If the key process
// dies, every call returns an error wrapping ErrKeyProcessDied and Done is
// closed.
type KeyProcess struct {
	cmd  *exec.Cmd
	w    *os.File
	r    *bufio.Reader
	rf   *os.File
	pub  *handshake.PublicIdentity
	fp   Fingerprint
	done chan struct{}

	created bool

	mu      sync.Mutex
	dead    error
	exitErr error
}

var _ handshake.Signer = (*KeyProcess)(nil)

// StartKeyProcess starts the key process, unlocks the identity in it
// (creating it first if opts.Create and there is none) and gives this vault
// the storage key for SaveSealed/LoadSealed. New identities are sealed with
// the OS keyring when this vault has one. It also hardens the calling
// process (HardenProcess).
func (v *Vault) StartKeyProcess(opts KeyProcessOptions) (*KeyProcess, error) {
	for attempt := 1; ; attempt++ {
		kp, err := v.startKeyProcess(opts)
		if err == nil || !errors.Is(err, ErrWrongPassphrase) || attempt >= opts.Attempts {
			return kp, err
		}
		if opts.Stderr != nil {
			fmt.Fprintln(opts.Stderr, "Wrong passphrase, try again.")
		}
	}
}

func (v *Vault) startKeyProcess(opts KeyProcessOptions) (*KeyProcess, error) {
	// The chat process holds the storage key and, briefly, the passphrase:
	// no core dumps of it either.
	HardenProcess()
	argv := opts.Command
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("vault: cannot find this executable to start the key process: %w", err)
		}
		argv = []string{exe, KeyProcessCommand}
	}
	argv = append(append([]string(nil), argv...), "--home", v.home)
	env := opts.Env
	if env == nil {
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, PassphraseEnv+"=") {
				env = append(env, kv)
			}
		}
	}
	// Which passphrase, if any, the key process needs.
	var flags byte
	var pass []byte
	has, err := v.HasIdentity()
	if err != nil {
		return nil, err
	}
	switch {
	case !has && !opts.Create:
		return nil, fmt.Errorf("vault: %s: %w (run `rtcchat id` to create one)", v.IdentityPath(), ErrNoIdentity)
	case !has:
		flags |= kpFlagCreate
		if v.opts.Keyring != nil {
			flags |= kpFlagKeyring
		} else {
			if opts.Passphrase == nil {
				return nil, fmt.Errorf("vault: no OS keyring and no passphrase: set %s or run in a terminal", PassphraseEnv)
			}
			if pass, err = opts.Passphrase("New passphrase for your identity", true); err != nil {
				return nil, err
			}
		}
	default:
		info, err := v.Identity()
		if err != nil {
			return nil, err
		}
		if !info.Keyring {
			if opts.Passphrase == nil {
				return nil, fmt.Errorf("vault: %s is sealed with a passphrase: set %s or run in a terminal", v.IdentityPath(), PassphraseEnv)
			}
			if pass, err = opts.Passphrase("Passphrase for "+v.IdentityPath(), false); err != nil {
				return nil, err
			}
		}
	}
	defer wipe(pass)
	if len(pass) > maxPassphrase {
		return nil, fmt.Errorf("vault: passphrase longer than %d bytes", maxPassphrase)
	}

	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(env, fmt.Sprintf("%s=%d", keyProcParentEnv, os.Getpid()))
	cmd.Stdin, cmd.Stdout = reqR, repW
	detach(cmd)
	cmd.Stderr = opts.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		reqR.Close()
		reqW.Close()
		repR.Close()
		repW.Close()
		return nil, fmt.Errorf("vault: start the key process: %w", err)
	}
	reqR.Close()
	repW.Close()
	kp := &KeyProcess{cmd: cmd, w: reqW, rf: repR, r: bufio.NewReaderSize(repR, MaxKeyProcFrame+2), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		kp.mu.Lock()
		kp.exitErr = err
		kp.mu.Unlock()
		close(kp.done)
	}()

	req := []byte{kpVersion, flags}
	req = binary.BigEndian.AppendUint32(req, v.opts.Argon2.Time)
	req = binary.BigEndian.AppendUint32(req, v.opts.Argon2.MemoryKiB)
	req = append(req, v.opts.Argon2.Threads)
	req = binary.BigEndian.AppendUint16(req, uint16(len(pass)))
	req = append(req, pass...)
	body, err := kp.call(kpUnlock, req, kpUnlocked)
	wipe(req)
	if err != nil {
		kp.Close()
		return nil, err
	}
	defer wipe(body)
	r := reader{b: body}
	created := r.u8()
	pubBytes := r.bytes(int(r.u16()))
	skey := r.bytes(32)
	if r.err != nil || r.left() != 0 || created > 1 {
		kp.Close()
		return nil, fmt.Errorf("vault: malformed unlock reply from the key process")
	}
	pub, fp, err := parsePublic(pubBytes)
	if err != nil {
		kp.Close()
		return nil, fmt.Errorf("vault: key process sent an invalid public identity: %w", err)
	}
	kp.pub, kp.fp, kp.created = pub, fp, created == 1
	v.setStoreKey(secretFrom(bytes.Clone(skey)))
	return kp, nil
}

// call sends one request and reads its reply, which must have type want.
func (kp *KeyProcess) call(typ byte, body []byte, want byte) ([]byte, error) {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if kp.dead != nil {
		return nil, kp.dead
	}
	fail := func(err error) error {
		kp.w.Close()
		kp.mu.Unlock()
		select {
		case <-kp.done: // the process exits once its input is closed
		case <-time.After(2 * time.Second):
			kp.cmd.Process.Kill()
			<-kp.done
		}
		kp.mu.Lock()
		msg := err.Error()
		if kp.exitErr != nil {
			msg += "; " + kp.exitErr.Error()
		}
		kp.dead = fmt.Errorf("vault: %w (%s): the identity keys are unavailable", ErrKeyProcessDied, msg)
		return kp.dead
	}
	if err := writeFrame(kp.w, typ, body); err != nil {
		return nil, fail(err)
	}
	buf := make([]byte, MaxKeyProcFrame)
	rt, rb, err := readFrame(kp.r, buf)
	if err != nil {
		return nil, fail(err)
	}
	if rt == kpError {
		if len(rb) < 1 {
			return nil, fail(errors.New("empty error reply"))
		}
		return nil, &keyProcError{code: rb[0], msg: string(rb[1:])}
	}
	if rt != want {
		return nil, fail(fmt.Errorf("unexpected reply type %#02x", rt))
	}
	return rb, nil
}

// keyProcError is an error reply of the key process.
type keyProcError struct {
	code byte
	msg  string
}

func (e *keyProcError) Error() string {
	return "vault: key process: " + strings.TrimPrefix(e.msg, "vault: ")
}

func (e *keyProcError) Unwrap() error {
	switch e.code {
	case kpErrWrongPass:
		return ErrWrongPassphrase
	case kpErrNoIdentity:
		return ErrNoIdentity
	}
	return nil
}

// Public implements handshake.Signer.
func (kp *KeyProcess) Public() *handshake.PublicIdentity { return kp.pub }

// Fingerprint is the identity's fingerprint.
func (kp *KeyProcess) Fingerprint() Fingerprint { return kp.fp }

// Created reports whether the key process created the identity at start.
func (kp *KeyProcess) Created() bool { return kp.created }

// SignBundle implements handshake.Signer by asking the key process.
func (kp *KeyProcess) SignBundle(transcriptHash []byte, level handshake.Level) (edSig, falconSig []byte, err error) {
	if len(transcriptHash) != 32 {
		return nil, nil, handshake.ErrSignedHashLength
	}
	body, err := kp.call(kpSign, append([]byte{byte(level)}, transcriptHash...), kpSigned)
	if err != nil {
		return nil, nil, err
	}
	r := reader{b: body}
	edSig = bytes.Clone(r.bytes(int(r.u16())))
	falconSig = bytes.Clone(r.bytes(int(r.u16())))
	if r.err != nil || r.left() != 0 {
		return nil, nil, errors.New("vault: malformed signature reply from the key process")
	}
	if len(falconSig) == 0 {
		falconSig = nil
	}
	return edSig, falconSig, nil
}

// IdentityDH implements handshake.Signer by asking the key process.
func (kp *KeyProcess) IdentityDH(peerPublic []byte) ([]byte, error) {
	if len(peerPublic) != 32 {
		return nil, fmt.Errorf("vault: X25519 public key of %d bytes, want 32", len(peerPublic))
	}
	body, err := kp.call(kpDH, peerPublic, kpDHResult)
	if err != nil {
		return nil, err
	}
	if len(body) != 32 {
		return nil, errors.New("vault: malformed DH reply from the key process")
	}
	return bytes.Clone(body), nil
}

// Done is closed when the key process has exited.
func (kp *KeyProcess) Done() <-chan struct{} { return kp.done }

// Err reports why the key process is unusable, or nil while it runs.
func (kp *KeyProcess) Err() error {
	select {
	case <-kp.done:
	default:
		return nil
	}
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if kp.dead != nil {
		return kp.dead
	}
	if kp.exitErr != nil {
		return fmt.Errorf("vault: %w: %v", ErrKeyProcessDied, kp.exitErr)
	}
	return fmt.Errorf("vault: %w", ErrKeyProcessDied)
}

// Close ends the key process (closing its input makes it wipe its keys and
// exit) and waits for it.
func (kp *KeyProcess) Close() error {
	kp.w.Close()
	select {
	case <-kp.done:
	case <-time.After(5 * time.Second): // busy and not reading its input
		kp.cmd.Process.Kill()
		<-kp.done
	}
	kp.rf.Close()
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if kp.dead == nil {
		kp.dead = fmt.Errorf("vault: %w: closed", ErrKeyProcessDied)
	}
	return nil
}
