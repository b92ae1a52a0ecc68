package rtc

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// RecvContext returns when its context ends, loses no message to that, and
// leaves the connection usable: receives that keep getting cut short while
// the peer sends still yield every message, once, in order.
func TestRecvContextCancelLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	off, ans := connectPair(t, ctx, LoopbackConfig())
	defer off.Close()
	defer ans.Close()

	// Nothing is coming: the context ends the wait.
	short, stop := context.WithTimeout(ctx, 20*time.Millisecond)
	start := time.Now()
	_, err := ans.RecvContext(short)
	stop()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RecvContext with nothing to read: %v, want the context's error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("RecvContext took %v to notice its context", d)
	}
	done, stop := context.WithCancel(ctx)
	stop()
	if _, err := ans.RecvContext(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("RecvContext with a cancelled context: %v", err)
	}

	const n = 300
	go func() {
		for i := 0; i < n; i++ {
			if err := off.Send([]byte(fmt.Sprintf("m%03d", i))); err != nil {
				return
			}
			if i%7 == 0 {
				time.Sleep(200 * time.Microsecond)
			}
		}
	}()
	got, cuts := 0, 0
	for try := 0; got < n; try++ {
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d messages in time (%d receives cut short)", got, n, cuts)
		}
		// Receives that end after 0-150 µs, and every fourth an ordinary one.
		wait := time.Duration(try%4) * 50 * time.Microsecond
		if try%4 == 3 {
			wait = 10 * time.Second
		}
		rctx, stop := context.WithTimeout(ctx, wait)
		m, err := ans.RecvContext(rctx)
		stop()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("after %d messages: %v", got, err)
			}
			cuts++
			continue
		}
		if want := fmt.Sprintf("m%03d", got); string(m) != want {
			t.Fatalf("got %q, want %q", m, want)
		}
		got++
	}
	if cuts == 0 {
		t.Fatal("no receive was cut short: the test did not test anything")
	}
	t.Logf("%d messages, %d receives cut short by their context", n, cuts)
	// The connection still works both ways with no context at all.
	if err := ans.Send([]byte("back")); err != nil {
		t.Fatal(err)
	}
	if m, err := off.Recv(); err != nil || string(m) != "back" {
		t.Fatalf("reply: %q %v", m, err)
	}
}
