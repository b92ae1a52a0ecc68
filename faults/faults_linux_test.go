//go:build linux

package faults

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtcchat/rtcchat/bench"
)

// envFull, when set (make faults), moves the 16 MiB file in every
// condition, 30% loss included, and gives each step up to fullLimit; run it
// with go test -timeout 90m.
const envFull = "RTCCHAT_FAULTS_FULL"

const fullLimit = 45 * time.Minute

func fullRun() bool { return os.Getenv(envFull) != "" }

// fileSize is the file moved in a network condition: full (16 MiB, or less
// where the test budget of make test cannot carry it, see TestPacketLoss)
// or 1 MiB with -short. RTCCHAT_FAULTS_FILE_MB overrides it for every
// condition.
func fileSize(t *testing.T, full int64) int64 {
	if v := os.Getenv("RTCCHAT_FAULTS_FILE_MB"); v != "" {
		mb, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("RTCCHAT_FAULTS_FILE_MB=%q: %v", v, err)
		}
		return int64(mb) << 20
	}
	if testing.Short() {
		return min(full, 1<<20)
	}
	return full
}

// conversation is the number of 100-byte messages sent in each condition.
const conversation = 500

// converse sends msgs 100-byte messages and a file from the offering side
// and checks that everything arrived complete, in order, once.
func converse(t *testing.T, off, ans *bench.Proc, file int64, limit time.Duration) {
	t.Helper()
	msgs := conversation
	// Fail before go test's own timeout panics, so that the cleanups run
	// and no namespace is left behind.
	if dl, ok := t.Deadline(); ok && time.Until(dl)-30*time.Second < limit {
		limit = max(time.Until(dl)-30*time.Second, time.Second)
	}
	if _, err := ans.Call("reset", time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	v, err := off.CallFloats(fmt.Sprintf("send %d 100", msgs), limit)
	if err != nil {
		t.Fatalf("%d messages: %v", msgs, err)
	}
	t.Logf("%d messages acknowledged in %.2f s", msgs, v[0])
	n, dups, inOrder, _, err := ans.Stats(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n != msgs || dups != 0 || !inOrder {
		t.Fatalf("receiver got %d of %d messages, %d duplicates, in order: %v", n, msgs, dups, inOrder)
	}
	if v, err = off.CallFloats(fmt.Sprintf("bulk %d", file), limit); err != nil {
		t.Fatalf("file of %d KiB: %v", file>>10, err)
	}
	t.Logf("%d KiB file delivered in %.2f s (%.3f MB/s)", file>>10, v[0], float64(file)/1e6/v[0])
	// The receiver keeps a file only when the SHA-256 over the whole file
	// matches the offer, so a complete, ordered, undamaged copy arrived.
	if _, _, _, files, err := ans.Stats(time.Minute); err != nil || files != 1 {
		t.Fatalf("receiver completed %d files (want 1): %v", files, err)
	}
	t.Logf("conversation done in %v", time.Since(start).Round(time.Millisecond))
}

// TestPacketLoss drops packets at random in both directions. At 10% the
// loss starts before ICE (ICE, DTLS, inner TLS and the handshake must get
// through it too); at 30% it starts once the chat is set up, except with
// make faults (RTCCHAT_FAULTS_FULL=1): from the start, connecting took 2-29 s
// here and one attempt in 12 failed within rtc's ConnectTimeout (30 s),
// because pion's DTLS 1.2 handshake doubles its retransmission interval
// (RFC 6347 §4.2.4.1) and pion has no setting to cap it; rtc now starts it
// at 250 ms, which makes that rarer (see rtc's dtlsRetransmitInterval), but
// not rare enough for make test.
//
// At 30% loss make test moves a 256 KiB file, not 16 MiB (1 MiB took
// 33-56 s in most runs but once did not finish within 3 minutes in CI). pion's SCTP
// recovers a retransmission that is lost again only by its retransmission
// timer (its RACK skips retransmitted chunks), whose minimum (RTO.Min, 1 s)
// is fixed in pion, and after a timeout it resends one packet, then one or
// two per acknowledgement (its tail-loss-recovery burst limit), so a loss in
// that trickle costs another timeout. A trace in one process at 30% loss:
// 256 KiB all sent within 30 ms, then 8 s of timeouts that recovered 1-4
// packets each. rtc's settings (a window of at least 64 KiB, RTO.Max 4 s,
// see rtc.DefaultSCTPMinCwnd) cannot change that; the file moves at 20-40
// KB/s, and 16 MiB took 25 minutes here (11 KB/s). make faults moves it.
func TestPacketLoss(t *testing.T) {
	needNetns(t)
	for _, c := range []struct {
		p         float64
		file      int64
		fromStart bool
	}{{0.10, 16 << 20, true}, {0.30, 256 << 10, false}} {
		t.Run(fmt.Sprintf("%.0f%%", c.p*100), func(t *testing.T) {
			t.Parallel()
			file, limit, fromStart := fileSize(t, c.file), 3*time.Minute, c.fromStart
			if fullRun() {
				file, limit, fromStart = fileSize(t, 16<<20), fullLimit, true
			}
			n := newNet2(t, false)
			if fromStart {
				n.loss(c.p)
			}
			off, ans := n.peers(0)
			if !fromStart {
				n.loss(c.p)
			}
			converse(t, off, ans, file, limit)
		})
	}
}

// TestDelayJitterReordering sends the conversation through a path of
// 150 ms one way with ±30 ms of jitter, first in order, then with 0.1% of the
// packets held back 10 ms (overtaken by the packets behind them).
//
// pion's SCTP reads each overtaken packet as a loss (three reports of a gap
// trigger a fast retransmission and halve the congestion window); rtc's
// floor of 64 KiB under the window keeps the 16 MiB moving (raw pion with
// its defaults did not move 16 MiB within 90 s here).
func TestDelayJitterReordering(t *testing.T) {
	needNetns(t)
	for _, c := range []struct {
		name    string
		reorder float64
		file    int64
	}{{"jitter", 0, 16 << 20}, {"reordering", 0.001, 16 << 20}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			n := newNet2(t, true)
			d := n.addDelayRouter(150*time.Millisecond, 30*time.Millisecond, c.reorder, 10*time.Millisecond)
			off, ans := n.peers(0)
			v, err := off.CallFloats("rtt 5 100", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if v[0] < 250 {
				t.Fatalf("round trip %.1f ms through a 150 ms (±30 ms) path: the delay is not in effect", v[0])
			}
			t.Logf("round trip of a message: median %.0f ms", v[0])
			converse(t, off, ans, fileSize(t, c.file), 3*time.Minute)
			t.Logf("router: %d packets, %d held back", d.packets.Load(), d.reorders.Load())
			if c.reorder > 0 && d.reorders.Load() == 0 {
				t.Fatal("no packet was reordered")
			}
		})
	}
}

// TestLinkCut cuts the link for 20 s while messages are in flight. The
// session survives it (ICE consent resumes, SCTP retransmits), or, if it
// does not, it says so; either way every message acknowledged arrived.
func TestLinkCut(t *testing.T) {
	needNetns(t)
	t.Parallel()
	n := newNet2(t, false)
	off, ans := n.peers(0)
	if _, err := off.CallFloats("send 50 100", time.Minute); err != nil {
		t.Fatal(err)
	}
	n.cut()
	if err := off.Send("send 50 100"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second)
	n.restore()
	reply, err := off.Expect("ok", 2*time.Minute)
	select {
	case why := <-off.Lost():
		t.Logf("the session reported the loss: %s (reply %q, %v)", why, reply, err)
	default:
		if err != nil {
			t.Fatalf("after the link came back: %v", err)
		}
		t.Logf("the session survived the 20 s cut; the messages sent during it were acknowledged %s s after they were sent", reply)
	}
	cnt, dups, inOrder, _, serr := ans.Stats(time.Minute)
	if serr != nil {
		t.Fatal(serr)
	}
	acked := 50
	if err == nil {
		acked = 100
	}
	if cnt < acked || dups != 0 || !inOrder {
		t.Fatalf("receiver got %d messages (%d acknowledged), %d duplicates, in order: %v", cnt, acked, dups, inOrder)
	}
	if err == nil {
		// Still usable after the cut.
		if _, err := off.CallFloats("send 10 100", time.Minute); err != nil {
			t.Fatalf("after the cut: %v", err)
		}
	}
}

// TestPeerKilled kills the answering process with SIGKILL: the offering side
// must report the loss within ICE's failure timeout (disconnected after 5 s
// of silence, then failed after rtc.Config.FailedTimeout).
func TestPeerKilled(t *testing.T) {
	needNetns(t)
	t.Parallel()
	const failed = 10 * time.Second
	const iceDisconnected = 5 * time.Second
	n := newNet2(t, false)
	off, ans := n.peers(failed)
	if _, err := off.CallFloats("send 20 100", time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ans.Kill()
	limit := iceDisconnected + failed + 5*time.Second
	select {
	case why := <-off.Lost():
		el := time.Since(start)
		t.Logf("the surviving side reported after %v: %s", el.Round(time.Millisecond), why)
		if !strings.Contains(why, "lost") && !strings.Contains(why, "unreachable") {
			t.Errorf("reason %q does not say the peer was lost", why)
		}
	case <-time.After(limit):
		t.Fatalf("the surviving side did not notice the killed peer within %v", limit)
	}
}
