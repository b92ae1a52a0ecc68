// Package bench measures rtcchat between two real processes and runs the
// same measurements over raw pion (default settings) as the baseline.
//
// A measurement runs two child processes, an offering and an answering side,
// each driven by a parent over its stdin and stdout with one text line per
// command and reply (see [RunChild] for the protocol). The children of kind
// "chat" use the chat package directly (the whole stack: ICE, DTLS, inner
// TLS 1.3, the hybrid handshake, the Double Ratchet, frames, acknowledgements
// and file transfer); the children of kind "raw" use pion's webrtc API with
// its default settings the way pion's examples do. cmd/rtcchat-bench is the
// report `make bench` prints; the fault tests in faults/ run the same
// children inside network namespaces.
package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rtcchat/rtcchat/internal/gctune"
)

// Options configure one child.
type Options struct {
	Role string // "offer" or "answer"
	Kind string // "chat" or "raw"
	// Dir receives files (chat) ; "" means a temporary directory.
	Dir string
	// IP, when set, restricts the host candidates to this address (a
	// namespace's veth address); otherwise only loopback is used.
	IP string
	// FailedTimeout overrides rtc.Config.FailedTimeout (chat) when non-zero.
	FailedTimeout time.Duration
	// Level, when set, is the only security level the chat side accepts
	// ("standard", "enhanced", "quantum"); "" is the default range.
	Level string
}

// EnvGoDefaultGC, when set in a chat child's environment, keeps Go's
// default garbage collector instead of the rtcchat command's setting.
const EnvGoDefaultGC = "RTCCHAT_BENCH_GO_DEFAULT_GC"

// EnvChild names the environment variable that turns a binary into a child:
// its value is "role,kind[,ip[,failed-timeout[,level]]]".
const EnvChild = "RTCCHAT_BENCH_CHILD"

// OptionsFromEnv parses EnvChild; ok is false when it is not set.
func OptionsFromEnv() (o Options, ok bool, err error) {
	v := os.Getenv(EnvChild)
	if v == "" {
		return o, false, nil
	}
	f := strings.Split(v, ",")
	if len(f) < 2 {
		return o, true, fmt.Errorf("bench: %s=%q: want role,kind[,ip[,failed-timeout[,level]]]", EnvChild, v)
	}
	o.Role, o.Kind = f[0], f[1]
	if len(f) > 2 {
		o.IP = f[2]
	}
	if len(f) > 3 && f[3] != "" {
		if o.FailedTimeout, err = time.ParseDuration(f[3]); err != nil {
			return o, true, fmt.Errorf("bench: failed timeout: %w", err)
		}
	}
	if len(f) > 4 {
		o.Level = f[4]
	}
	return o, true, nil
}

// Env returns the EnvChild assignment for o.
func (o Options) Env() string {
	s := EnvChild + "=" + o.Role + "," + o.Kind + "," + o.IP + ","
	if o.FailedTimeout > 0 {
		s += o.FailedTimeout.String()
	}
	return s + "," + o.Level
}

// peerConn is what a child measures through: the chat conversation or a raw
// pion data channel, behind the same small protocol.
type peerConn interface {
	// sendN sends n messages of size bytes with consecutive sequence numbers
	// and returns once every one was acknowledged by the peer.
	sendN(n, size int, timeout time.Duration) error
	// sendUnacked sends n messages and returns once the peer reported that
	// the last one arrived (raw only; the chat acknowledges every message).
	sendUnacked(n, size int, timeout time.Duration) error
	// rtt sends one message of size bytes and waits for its acknowledgement.
	rtt(size int, timeout time.Duration) error
	// bulk moves size bytes (a file for chat, 16 KiB messages for raw) and
	// returns when the peer has all of them.
	bulk(size int64, timeout time.Duration) error
	stats() recvStats
	resetStats()
	close() error
	// lost is closed when the connection ended without a quit; why says why.
	lost() (<-chan struct{}, func() string)
}

// recvStats is what a receiving child checks about the messages it got.
type recvStats struct {
	Count   int  // distinct messages received
	Dups    int  // messages received more than once
	InOrder bool // sequence numbers arrived as n, n+1, n+2, ... without gaps
	Files   int  // files received complete with a matching SHA-256
}

// seqTracker checks order and duplicates of sequence-numbered messages.
type seqTracker struct {
	mu   sync.Mutex
	next int
	seen map[int]bool
	st   recvStats
}

// newSeqTracker checks order from the first message it sees: the sender
// numbers its messages across commands.
func newSeqTracker() *seqTracker {
	return &seqTracker{next: -1, seen: map[int]bool{}, st: recvStats{InOrder: true}}
}

func (t *seqTracker) add(seq int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen[seq] {
		t.st.Dups++
		return
	}
	t.seen[seq] = true
	t.st.Count++
	if t.next >= 0 && seq != t.next {
		t.st.InOrder = false
	}
	t.next = seq + 1
}

func (t *seqTracker) file() {
	t.mu.Lock()
	t.st.Files++
	t.mu.Unlock()
}

func (t *seqTracker) get() recvStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st
}

func (t *seqTracker) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next, t.seen, t.st = -1, map[int]bool{}, recvStats{InOrder: true}
}

// counter counts acknowledgements and wakes waiters.
type counter struct {
	mu sync.Mutex
	n  int64
	ch chan struct{}
}

func newCounter() *counter { return &counter{ch: make(chan struct{})} }

func (c *counter) add(d int64) {
	c.mu.Lock()
	c.n += d
	close(c.ch)
	c.ch = make(chan struct{})
	c.mu.Unlock()
}

func (c *counter) get() (int64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.ch
}

// waitFor waits until the counter reaches at least n.
func (c *counter) waitFor(n int64, timeout time.Duration, lost <-chan struct{}) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		v, ch := c.get()
		if v >= n {
			return nil
		}
		select {
		case <-ch:
		case <-lost:
			return fmt.Errorf("connection lost after %d of %d acknowledgements", v, n)
		case <-t.C:
			return fmt.Errorf("timed out after %v with %d of %d acknowledgements", timeout, v, n)
		}
	}
}

// seqPayload is a message body of size bytes starting with the sequence number.
func seqPayload(seq, size int) []byte {
	b := []byte(fmt.Sprintf("%010d ", seq))
	for len(b) < size {
		b = append(b, 'x')
	}
	return b[:max(size, 11)]
}

func parseSeq(b []byte) (int, bool) {
	if len(b) < 10 {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[:10]))
	return n, err == nil
}

// RunChild runs one child: it connects, then answers the parent's commands,
// one line each, until "quit" or the end of in. Protocol (parent → child):
//
//	offer BLOB        (answering side) the offer; replies "blob ANSWER", then "ready" once connected
//	answer BLOB       (offering side) the answer; replies "ready" once connected
//	send N SIZE       sends N messages, waits for every acknowledgement: "ok SECONDS"
//	sendunacked N SIZE  (raw) sends N messages, waits for the peer's end mark: "ok SECONDS"
//	rtt N SIZE        N sequential round trips: "ok MEDIAN_MS P99_MS"
//	bulk BYTES        moves BYTES (chat: a file): "ok SECONDS"
//	stats             "ok COUNT DUPS INORDER FILES" of the messages received
//	reset             forgets the received messages: "ok"
//	rss               peak resident memory (VmHWM): "ok MB"
//	quit              closes and exits: "ok"
//
// The offering side prints "blob OFFER" first. Failures reply "err TEXT"; a
// connection that ends unexpectedly prints "lost REASON" at any time.
func RunChild(o Options, in io.Reader, out io.Writer) error {
	if o.Kind == "chat" && os.Getenv(EnvGoDefaultGC) == "" {
		// The garbage collector as the rtcchat command sets it; raw pion
		// keeps Go's defaults.
		gctune.Apply()
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		outMu.Unlock()
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "rtcchat-bench-recv-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	var filter func(netip.Addr) bool
	if o.IP != "" {
		want, err := netip.ParseAddr(o.IP)
		if err != nil {
			return fmt.Errorf("bench: address %q: %w", o.IP, err)
		}
		filter = func(a netip.Addr) bool { return a == want }
	}
	var side sideConn
	var err error
	switch o.Kind {
	case "chat":
		side, err = newChatSide(o, filter)
	case "raw":
		side, err = newRawSide(o, filter)
	default:
		return fmt.Errorf("bench: unknown kind %q", o.Kind)
	}
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if o.Role == "offer" {
		blob, err := side.offer()
		if err != nil {
			return err
		}
		say("blob %s", blob)
	}
	var pc peerConn
	for pc == nil {
		if !sc.Scan() {
			return errors.New("bench: parent went away before connecting")
		}
		cmd, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		switch {
		case cmd == "offer" && o.Role == "answer":
			blob, wait, err := side.answer(ctx, arg)
			if err != nil {
				cancel()
				return err
			}
			say("blob %s", blob)
			if pc, err = wait(); err != nil {
				cancel()
				return err
			}
		case cmd == "answer" && o.Role == "offer":
			if pc, err = side.accept(ctx, arg); err != nil {
				cancel()
				return err
			}
		default:
			cancel()
			return fmt.Errorf("bench: unexpected %q before connecting", cmd)
		}
		cancel()
	}
	say("ready")
	lost, why := pc.lost()
	quit := make(chan struct{})
	go func() {
		select {
		case <-lost:
			say("lost %s", why())
		case <-quit:
		}
	}()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		arg := func(i int) int {
			if i >= len(f) {
				return 0
			}
			n, _ := strconv.Atoi(f[i])
			return n
		}
		timeout := stepTimeout()
		start := time.Now()
		var err error
		switch f[0] {
		case "send":
			if err = pc.sendN(arg(1), arg(2), timeout); err == nil {
				say("ok %.6f", time.Since(start).Seconds())
			}
		case "sendunacked":
			if err = pc.sendUnacked(arg(1), arg(2), timeout); err == nil {
				say("ok %.6f", time.Since(start).Seconds())
			}
		case "rtt":
			var ds []time.Duration
			for i := 0; i < arg(1) && err == nil; i++ {
				t0 := time.Now()
				if err = pc.rtt(arg(2), time.Minute); err == nil {
					ds = append(ds, time.Since(t0))
				}
			}
			if err == nil {
				med, p99 := percentiles(ds)
				say("ok %.4f %.4f", ms(med), ms(p99))
			}
		case "bulk":
			n, _ := strconv.ParseInt(f[1], 10, 64)
			var secs float64
			if secs, err = timedBulk(pc, n, timeout); err == nil {
				say("ok %.6f", secs)
			}
		case "stats":
			st := pc.stats()
			say("ok %d %d %v %d", st.Count, st.Dups, st.InOrder, st.Files)
		case "reset":
			pc.resetStats()
			say("ok")
		case "rss":
			say("ok %.1f", PeakRSSMB())
		case "quit":
			close(quit)
			pc.close()
			say("ok")
			return nil
		default:
			err = fmt.Errorf("unknown command %q", f[0])
		}
		if err != nil {
			say("err %s", strings.ReplaceAll(err.Error(), "\n", " "))
		}
	}
	close(quit)
	pc.close()
	return nil
}

// timedBulk is bulk with the time measured inside: for chat it starts after
// the file was offered (hashing the source is not transfer time).
func timedBulk(pc peerConn, n int64, timeout time.Duration) (float64, error) {
	if b, ok := pc.(interface {
		timedBulk(int64, time.Duration) (float64, error)
	}); ok {
		return b.timedBulk(n, timeout)
	}
	start := time.Now()
	err := pc.bulk(n, timeout)
	return time.Since(start).Seconds(), err
}

// sideConn is one side before it is connected.
type sideConn interface {
	offer() (string, error)
	accept(ctx context.Context, answer string) (peerConn, error)
	answer(ctx context.Context, offer string) (string, func() (peerConn, error), error)
}

func percentiles(ds []time.Duration) (med, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	i := (len(s)*99 + 99) / 100
	p99 = s[min(i, len(s))-1]
	return med, p99
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// PeakRSSMB returns the process's peak resident set (VmHWM) in MB (2^20
// bytes), or -1 where /proc is not available.
func PeakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err == nil {
				return float64(kb) / 1024
			}
		}
	}
	return -1
}

// randomFile writes size random bytes into a new file in dir.
func randomFile(dir string, size int64) (string, error) {
	f, err := os.CreateTemp(dir, "bench-*.bin")
	if err != nil {
		return "", err
	}
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		rand.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return "", err
		}
		left -= n
	}
	return f.Name(), f.Close()
}

// EnvStepTimeout, when set to a duration, replaces the 10 minutes a child
// gives each command (the fault tests' make faults moves 16 MiB through 30%
// loss, which takes longer).
const EnvStepTimeout = "RTCCHAT_BENCH_STEP_TIMEOUT"

func stepTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(EnvStepTimeout)); err == nil && d > 0 {
		return d
	}
	return 10 * time.Minute
}
