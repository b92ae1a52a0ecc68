package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Proc is a running child, driven by the parent over pipes.
type Proc struct {
	Name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // replies and blobs
	lostCh chan string // "lost" reports
	exited chan struct{}
	werr   error
	mu     sync.Mutex
}

// Start starts cmd as a child; its stderr goes to errw (may be nil).
func Start(name string, cmd *exec.Cmd, errw io.Writer) (*Proc, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = errw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, stdin: in, lines: make(chan string, 64), lostCh: make(chan string, 4), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if r, ok := strings.CutPrefix(l, "lost "); ok {
				select {
				case p.lostCh <- r:
				default:
				}
				continue
			}
			p.lines <- l
		}
		p.werr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Lost delivers the reasons the child reported for an unexpected end of
// its connection.
func (p *Proc) Lost() <-chan string { return p.lostCh }

// Send writes one command line.
func (p *Proc) Send(line string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

// Expect waits for the next line, which must start with prefix, and returns
// the rest of it.
func (p *Proc) Expect(prefix string, timeout time.Duration) (string, error) {
	select {
	case l := <-p.lines:
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			return strings.TrimSpace(rest), nil
		}
		if rest, ok := strings.CutPrefix(l, "err "); ok {
			return "", fmt.Errorf("%s: %s", p.Name, rest)
		}
		return "", fmt.Errorf("%s: want %q, got %q", p.Name, prefix, l)
	case <-p.exited:
		select {
		case l := <-p.lines:
			return "", fmt.Errorf("%s exited (%v) after %q", p.Name, p.werr, l)
		default:
		}
		return "", fmt.Errorf("%s exited: %v", p.Name, p.werr)
	case <-time.After(timeout):
		return "", fmt.Errorf("%s: no %q within %v", p.Name, prefix, timeout)
	}
}

// Call sends a command and returns the fields of its "ok" reply.
func (p *Proc) Call(line string, timeout time.Duration) ([]string, error) {
	if err := p.Send(line); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	r, err := p.Expect("ok", timeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", line, err)
	}
	return strings.Fields(r), nil
}

// CallFloats is Call for replies made of numbers.
func (p *Proc) CallFloats(line string, timeout time.Duration) ([]float64, error) {
	f, err := p.Call(line, timeout)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, s := range f {
		if out[i], err = strconv.ParseFloat(s, 64); err != nil {
			return nil, fmt.Errorf("%s: reply %q: %w", line, f, err)
		}
	}
	return out, nil
}

// Stats asks a receiving child what it got.
func (p *Proc) Stats(timeout time.Duration) (count, dups int, inOrder bool, files int, err error) {
	f, err := p.Call("stats", timeout)
	if err != nil {
		return 0, 0, false, 0, err
	}
	if len(f) != 4 {
		return 0, 0, false, 0, fmt.Errorf("%s: stats reply %q", p.Name, f)
	}
	count, _ = strconv.Atoi(f[0])
	dups, _ = strconv.Atoi(f[1])
	files, _ = strconv.Atoi(f[3])
	return count, dups, f[2] == "true", files, nil
}

// Quit asks the child to close and waits for it to exit; it kills the child
// if it does not.
func (p *Proc) Quit(timeout time.Duration) {
	p.Send("quit")
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.Kill()
	}
}

// Kill ends the child with SIGKILL and waits for it.
func (p *Proc) Kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	<-p.exited
}

// Connect swaps the blobs between an offering and an answering child and
// returns the time from handing the answer blob to the offering side to both
// sides reporting "ready" (for chat: the conversation is established, with
// the first ratchet keys; for raw pion: the data channel is open).
func Connect(off, ans *Proc, timeout time.Duration) (time.Duration, error) {
	offer, err := off.Expect("blob ", timeout)
	if err != nil {
		return 0, err
	}
	if err := ans.Send("offer " + offer); err != nil {
		return 0, err
	}
	answer, err := ans.Expect("blob ", timeout)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := off.Send("answer " + answer); err != nil {
		return 0, err
	}
	errs := make(chan error, 2)
	for _, p := range []*Proc{off, ans} {
		go func() {
			_, err := p.Expect("ready", timeout)
			errs <- err
		}()
	}
	err = errors.Join(<-errs, <-errs)
	return time.Since(start), err
}
