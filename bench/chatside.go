package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/rtcchat/rtcchat/chat"
	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/rtc"
)

// chatSide is a child running the whole rtcchat stack through the chat
// package, at the default security level, with an identity made at start
// (before anything is timed).
type chatSide struct {
	o   Options
	cfg chat.Config
	off *chat.Offer
}

func newChatSide(o Options, filter func(netip.Addr) bool) (*chatSide, error) {
	id, err := handshake.GenerateIdentity(rand.Reader)
	if err != nil {
		return nil, err
	}
	rc := rtc.LoopbackConfig()
	if filter != nil {
		rc = rtc.Config{Networks: []string{"udp4"}, IPFilter: filter}
	}
	if o.FailedTimeout > 0 {
		rc.FailedTimeout = o.FailedTimeout
	}
	cfg := chat.Config{RTC: rc, Signer: id}
	if o.Level != "" {
		l, err := handshake.ParseLevel(o.Level)
		if err != nil {
			return nil, err
		}
		cfg.MinLevel, cfg.MaxLevel = l, l
	}
	return &chatSide{o: o, cfg: cfg}, nil
}

func (s *chatSide) offer() (string, error) {
	off, err := chat.NewOffer(context.Background(), s.cfg)
	if err != nil {
		return "", err
	}
	s.off = off
	return off.Blob(), nil
}

func (s *chatSide) accept(ctx context.Context, answer string) (peerConn, error) {
	c, err := s.off.Connect(ctx, answer)
	if err != nil {
		return nil, err
	}
	return newChatConn(c, s.o.Dir), nil
}

func (s *chatSide) answer(ctx context.Context, offer string) (string, func() (peerConn, error), error) {
	a, err := chat.NewAnswer(ctx, s.cfg, offer)
	if err != nil {
		return "", nil, err
	}
	return a.Blob(), func() (peerConn, error) {
		c, err := a.Connect(ctx)
		if err != nil {
			return nil, err
		}
		return newChatConn(c, s.o.Dir), nil
	}, nil
}

// chatConn runs the conversation's event loop: it counts acknowledgements,
// checks received messages, accepts offered files and reports their end.
type chatConn struct {
	c         *chat.Conversation
	dir       string
	delivered *counter
	filesDone *counter
	recv      *seqTracker
	lostCh    chan struct{}
	mu        sync.Mutex
	why       string
	quitting  bool
	fileErr   error
}

func newChatConn(c *chat.Conversation, dir string) *chatConn {
	cc := &chatConn{c: c, dir: dir, delivered: newCounter(), filesDone: newCounter(), recv: newSeqTracker(), lostCh: make(chan struct{})}
	go cc.loop()
	return cc
}

// loop handles every event. The session always delivers EventDisconnected
// last (it blocks until the event is read), so the loop ends on it.
func (cc *chatConn) loop() {
	for ev := range cc.c.Events() {
		switch ev.Kind {
		case chat.EventMessage:
			if seq, ok := parseSeq([]byte(ev.Text)); ok {
				cc.recv.add(seq)
			}
		case chat.EventDelivered:
			cc.delivered.add(1)
		case chat.EventFileOffered:
			if err := cc.c.AcceptFile(ev.ID, cc.dir); err != nil {
				cc.setFileErr(err)
			}
		case chat.EventFileDone:
			if ev.File != nil && ev.File.Incoming {
				cc.recv.file()
				os.Remove(ev.File.Path) // checked by its SHA-256; free the space
			} else {
				cc.filesDone.add(1)
			}
		case chat.EventFileFailed:
			cc.setFileErr(fmt.Errorf("file transfer failed: %v", ev.Err))
		case chat.EventDisconnected:
			cc.mu.Lock()
			if ev.Err != nil {
				cc.why = ev.Err.Error()
			} else {
				cc.why = "the peer said bye"
			}
			q := cc.quitting
			cc.mu.Unlock()
			if !q {
				close(cc.lostCh)
			}
			return
		}
	}
}

func (cc *chatConn) setFileErr(err error) {
	cc.mu.Lock()
	cc.fileErr = err
	cc.mu.Unlock()
}

func (cc *chatConn) sendN(n, size int, timeout time.Duration) error {
	base, _ := cc.delivered.get()
	for i := 0; i < n; i++ {
		if _, err := cc.c.SendText(string(seqPayload(cc.nextSeq(), size))); err != nil {
			return err
		}
	}
	return cc.delivered.waitFor(base+int64(n), timeout, cc.lostCh)
}

// sendSeq numbers the messages this side sends, across commands.
var sendSeq struct {
	sync.Mutex
	n int
}

func (cc *chatConn) nextSeq() int {
	sendSeq.Lock()
	defer sendSeq.Unlock()
	sendSeq.n++
	return sendSeq.n - 1
}

func (cc *chatConn) sendUnacked(n, size int, timeout time.Duration) error {
	return cc.sendN(n, size, timeout)
}

func (cc *chatConn) rtt(size int, timeout time.Duration) error {
	return cc.sendN(1, size, timeout)
}

func (cc *chatConn) bulk(size int64, timeout time.Duration) error {
	_, err := cc.timedBulk(size, timeout)
	return err
}

func (cc *chatConn) timedBulk(size int64, timeout time.Duration) (float64, error) {
	path, err := randomFile("", size)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	base, _ := cc.filesDone.get()
	if _, err := cc.c.OfferFile(path); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cc.filesDone.waitFor(base+1, timeout, cc.lostCh); err != nil {
		cc.mu.Lock()
		ferr := cc.fileErr
		cc.mu.Unlock()
		if ferr != nil {
			return 0, ferr
		}
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

func (cc *chatConn) stats() recvStats { return cc.recv.get() }
func (cc *chatConn) resetStats()      { cc.recv.reset() }

func (cc *chatConn) close() error {
	cc.mu.Lock()
	cc.quitting = true
	cc.mu.Unlock()
	return cc.c.Close()
}

func (cc *chatConn) lost() (<-chan struct{}, func() string) {
	return cc.lostCh, func() string {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		return cc.why
	}
}
