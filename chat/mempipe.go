package chat

import (
	"context"
	"sync"
)

// msgPipe is an in-memory MessageConn pair: the inner TLS warm-up
// (warmUpTLS) runs over it, and tests use it as a transport.
type msgPipe struct {
	in     chan []byte
	out    chan []byte
	done   chan struct{}
	peer   *msgPipe
	closer *sync.Once
}

func newMsgPipe() (*msgPipe, *msgPipe) {
	ab, ba := make(chan []byte, 1024), make(chan []byte, 1024)
	done := make(chan struct{})
	once := &sync.Once{}
	a := &msgPipe{in: ba, out: ab, done: done, closer: once}
	b := &msgPipe{in: ab, out: ba, done: done, closer: once}
	a.peer, b.peer = b, a
	return a, b
}

func (p *msgPipe) Send(m []byte) error {
	select {
	case <-p.done:
		return ErrClosed
	case p.out <- append([]byte(nil), m...):
		return nil
	}
}

func (p *msgPipe) Recv(ctx context.Context) ([]byte, error) {
	select {
	case m := <-p.in:
		return m, nil
	case <-p.done:
		// Deliver what was sent before the close, as an orderly transport does.
		select {
		case m := <-p.in:
			return m, nil
		default:
		}
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *msgPipe) Close() error {
	p.closer.Do(func() { close(p.done) })
	return nil
}
