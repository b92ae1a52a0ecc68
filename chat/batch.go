package chat

import (
	"encoding/binary"
	"fmt"
)

// batchSender is a MessageConn that can send several messages at once. The
// session's writer hands it everything that queued up while it was busy, so
// a burst of small messages costs one TLS record and one data-channel
// message instead of one each. The receiver sees the same messages, one by
// one, in the same order: batching changes nothing on the wire inside TLS
// (a byte stream of length-prefixed messages, docs/PROTOCOL.md §6.1).
type batchSender interface {
	SendBatch(msgs [][]byte) error
}

// SendBatch writes msgs as consecutive length-prefixed messages in a single
// TLS write.
func (c *tlsConn) SendBatch(msgs [][]byte) error {
	total := 0
	for _, m := range msgs {
		if len(m) > maxTLSMessage {
			return fmt.Errorf("chat: message of %d bytes exceeds %d", len(m), maxTLSMessage)
		}
		total += 4 + len(m)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := c.wbuf[:0]
	if cap(buf) < total {
		buf = make([]byte, 0, total)
	}
	for _, m := range msgs {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(m)))
		buf = append(buf, m...)
	}
	_, err := c.tc.Write(buf)
	clear(buf)
	if cap(buf) <= 64<<10 {
		c.wbuf = buf[:0]
	}
	return err
}

// SendBatch keeps batching through the wrapper that also wipes the ratchet.
func (c *closeBoth) SendBatch(msgs [][]byte) error { return sendAll(c.MessageConn, msgs) }

// sendAll sends msgs over conn, in one batch when it can.
func sendAll(conn MessageConn, msgs [][]byte) error {
	if len(msgs) == 1 {
		return conn.Send(msgs[0])
	}
	if b, ok := conn.(batchSender); ok {
		return b.SendBatch(msgs)
	}
	for _, m := range msgs {
		if err := conn.Send(m); err != nil {
			return err
		}
	}
	return nil
}
