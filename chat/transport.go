package chat

import (
	"context"
	"errors"
)

// MessageConn is the ordered, reliable, message-oriented transport below a
// session: the WebRTC data channel (rtc.Conn), or a TLS layer on top of it.
type MessageConn interface {
	// Send transmits one message. It must not keep msg after it returns
	// (the caller may reuse the buffer).
	Send(msg []byte) error
	// Recv returns the next message; it fails once the connection is closed.
	Recv(ctx context.Context) ([]byte, error)
	// Close tears the connection down and unblocks Send and Recv.
	Close() error
}

// ErrClosed is returned by operations on a closed connection or session.
var ErrClosed = errors.New("chat: connection closed")
