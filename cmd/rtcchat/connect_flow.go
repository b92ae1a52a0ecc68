package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/rtcchat/rtcchat/rtc"
)

// The transport flow of `rtcchat offer` and `rtcchat answer`, kept apart
// from the commands so that the chat can reuse it: show our blob, read the
// peer's, connect, report.

// blobIO is where a connect flow talks to the user.
type blobIO struct {
	in     io.Reader // the peer's blob is read from here when it is not given
	out    io.Writer // our blob and the result
	notes  io.Writer // prompts and notes
	withQR bool
}

// offerFlow gathers, shows the offer, reads the answer (from answer when it
// is not empty, else from u.in) and connects.
func offerFlow(ctx context.Context, cfg rtc.Config, app []byte, u blobIO, answer string) (*rtc.Conn, error) {
	fmt.Fprintln(u.notes, "Gathering network addresses...")
	o, err := rtc.NewOfferer(ctx, cfg, app)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	for _, n := range o.Notes() {
		fmt.Fprintln(u.notes, "note:", n)
	}
	fmt.Fprintln(u.notes, "Send this offer to your peer; they run: rtcchat answer <offer>")
	showBlob(u.out, o.Blob(), u.withQR)
	var in *bufio.Reader
	if u.in != nil {
		in = bufio.NewReader(u.in) // one reader for every attempt: it buffers
	}
	for {
		if answer == "" {
			fmt.Fprintln(u.notes, "Paste the answer your peer sends back, then press Enter:")
			if answer, err = readBlob(in); err != nil {
				return nil, err
			}
		}
		c, err := o.Accept(ctx, answer)
		var be *rtc.BlobError
		if (errors.As(err, &be) || errors.Is(err, rtc.ErrWrongBlob)) && u.in != nil && answer != "" {
			// A damaged paste: say what is wrong and let the user paste again.
			fmt.Fprintln(u.notes, "That answer cannot be used:", err)
			answer = ""
			continue
		}
		return c, err
	}
}

// answerFlow reads the offer, gathers, shows the answer and waits for the
// offering side to connect.
func answerFlow(ctx context.Context, cfg rtc.Config, app []byte, u blobIO, offer string) (*rtc.Conn, error) {
	if _, err := rtc.Parse(offer); err != nil {
		return nil, fmt.Errorf("the offer cannot be used: %w", err)
	}
	fmt.Fprintln(u.notes, "Gathering network addresses...")
	a, err := rtc.NewAnswerer(ctx, cfg, offer, app)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	for _, n := range a.Notes() {
		fmt.Fprintln(u.notes, "note:", n)
	}
	wait := cfg.AnswerWait
	if wait == 0 {
		wait = rtc.DefaultAnswerWait
	}
	fmt.Fprintf(u.notes, "Send this answer back to your peer (waiting up to %v for them to paste it):\n", wait)
	showBlob(u.out, a.Blob(), u.withQR)
	return a.Wait(ctx)
}

// readBlob reads lines until they form a whole blob (chat apps and terminals
// may break it over several lines), or until EOF.
func readBlob(r *bufio.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no answer given and no input to read it from")
	}
	var acc strings.Builder
	for acc.Len() <= 64<<10 {
		line, err := r.ReadString('\n')
		line = strings.TrimSpace(line)
		if line != "" || acc.Len() > 0 {
			acc.WriteString(line)
			if _, perr := rtc.Parse(acc.String()); perr == nil || !errors.Is(perr, rtc.ErrTruncated) {
				return acc.String(), nil // the caller reports other errors
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	if acc.Len() == 0 {
		return "", errors.New("no blob was given (end of input)")
	}
	return acc.String(), nil
}

// reportConnected prints the connection's path and both DTLS fingerprints.
func reportConnected(w io.Writer, c *rtc.Conn) {
	fmt.Fprintf(w, "connected: %v\n", c.Path())
	fmt.Fprintf(w, "  local  DTLS fingerprint sha-256 %s\n", fingerprintHex(c.LocalFingerprint()))
	fmt.Fprintf(w, "  remote DTLS fingerprint sha-256 %s\n", fingerprintHex(c.RemoteFingerprint()))
}

func fingerprintHex(fp [rtc.FingerprintSize]byte) string {
	var b strings.Builder
	for i, x := range fp {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// transportCheck sends one message and waits for the peer's, proving the
// channel works both ways before the command closes it. It carries no chat.
func transportCheck(c *rtc.Conn, timeout time.Duration) error {
	const hello = "rtcchat transport check v1"
	if err := c.Send([]byte(hello)); err != nil {
		return err
	}
	got := make(chan error, 1)
	go func() {
		m, err := c.Recv()
		if err == nil && string(m) != hello {
			err = fmt.Errorf("unexpected message from the peer (%d bytes)", len(m))
		}
		got <- err
	}()
	select {
	case err := <-got:
		return err
	case <-time.After(timeout):
		return errors.New("the peer did not answer over the open channel")
	}
}

// interruptible returns a context cancelled by Ctrl-C.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt)
}
