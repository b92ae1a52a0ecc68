package bench

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Raw pion baseline: pion's webrtc API with its default settings (socket
// buffers, SCTP, DTLS), restricted only to the addresses the test may use,
// connected the way pion's examples do: full gathering, then the offer and
// the answer as base64 of the SessionDescription's JSON. Messages go through
// DataChannel.Send and OnMessage with the buffered-amount flow control of
// pion's data-channels-flow-control example.
const (
	rawBufferedLow  = 512 << 10
	rawBufferedHigh = 1 << 20
	rawBulkMessage  = 16 << 10
)

// Message kinds of the raw protocol (first byte).
const (
	rawAcked   = 'm' // seq(10 ASCII) ... : the receiver answers rawAck + seq
	rawUnacked = 'n' // seq ... : no answer
	rawAck     = 'a'
	rawBulk    = 'b' // bulk payload, counted
	rawEnd     = 'e' // end of a run: the receiver answers rawEndAck
	rawEndAck  = 'd'
)

// EnvRawSCTP, for experiments only, changes the raw baseline's SCTP
// settings: "mincwnd=BYTES,fastrtx=BYTES,rtomax=DURATION,cwndstep=BYTES"
// (pion's SettingEngine.SetSCTP...). The figures of make bench never set it.
const EnvRawSCTP = "RTCCHAT_BENCH_RAW_SCTP"

func sctpTuning(se *webrtc.SettingEngine, spec string) error {
	if spec == "" {
		return nil
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if k == "rtomax" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("bench: %s: %w", kv, err)
			}
			se.SetSCTPRTOMax(d)
			continue
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", kv, err)
		}
		switch k {
		case "mincwnd":
			se.SetSCTPMinCwnd(uint32(n))
		case "fastrtx":
			se.SetSCTPFastRtxWnd(uint32(n))
		case "cwndstep":
			se.SetSCTPCwndCAStep(uint32(n))
		default:
			return fmt.Errorf("bench: unknown SCTP setting %q", k)
		}
	}
	return nil
}

type rawSide struct {
	api    *webrtc.API
	pc     *webrtc.PeerConnection
	dc     *webrtc.DataChannel
	opened chan *webrtc.DataChannel
}

func newRawSide(o Options, filter func(netip.Addr) bool) (*rawSide, error) {
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if filter == nil {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	} else {
		se.SetIPFilter(func(ip net.IP) bool {
			a, ok := netip.AddrFromSlice(ip)
			return ok && filter(a.Unmap())
		})
	}
	if err := sctpTuning(&se, os.Getenv(EnvRawSCTP)); err != nil {
		return nil, err
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	return &rawSide{api: api, pc: pc, opened: make(chan *webrtc.DataChannel, 1)}, nil
}

func encodeSDP(d *webrtc.SessionDescription) (string, error) {
	j, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(j), nil
}

func decodeSDP(s string) (webrtc.SessionDescription, error) {
	var d webrtc.SessionDescription
	j, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(j, &d)
}

func (s *rawSide) offer() (string, error) {
	dc, err := s.pc.CreateDataChannel("bench", nil)
	if err != nil {
		return "", err
	}
	s.dc = dc
	dc.OnOpen(func() { s.opened <- dc })
	off, err := s.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	g := webrtc.GatheringCompletePromise(s.pc)
	if err := s.pc.SetLocalDescription(off); err != nil {
		return "", err
	}
	<-g
	return encodeSDP(s.pc.LocalDescription())
}

func (s *rawSide) accept(ctx context.Context, answer string) (peerConn, error) {
	d, err := decodeSDP(answer)
	if err != nil {
		return nil, err
	}
	if err := s.pc.SetRemoteDescription(d); err != nil {
		return nil, err
	}
	return s.wait(ctx)
}

func (s *rawSide) answer(ctx context.Context, offer string) (string, func() (peerConn, error), error) {
	d, err := decodeSDP(offer)
	if err != nil {
		return "", nil, err
	}
	rc := newRawConn(s.pc)
	s.pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		rc.attach(dc)
		dc.OnOpen(func() { s.opened <- dc })
	})
	if err := s.pc.SetRemoteDescription(d); err != nil {
		return "", nil, err
	}
	ans, err := s.pc.CreateAnswer(nil)
	if err != nil {
		return "", nil, err
	}
	g := webrtc.GatheringCompletePromise(s.pc)
	if err := s.pc.SetLocalDescription(ans); err != nil {
		return "", nil, err
	}
	<-g
	text, err := encodeSDP(s.pc.LocalDescription())
	if err != nil {
		return "", nil, err
	}
	return text, func() (peerConn, error) {
		select {
		case <-s.opened:
			return rc, nil
		case <-ctx.Done():
			return nil, errors.New("raw pion: the data channel did not open")
		}
	}, nil
}

func (s *rawSide) wait(ctx context.Context) (peerConn, error) {
	rc := newRawConn(s.pc)
	rc.attach(s.dc)
	select {
	case <-s.opened:
		return rc, nil
	case <-ctx.Done():
		return nil, errors.New("raw pion: the data channel did not open")
	}
}

type rawConn struct {
	pc      *webrtc.PeerConnection
	dc      *webrtc.DataChannel
	acks    *counter
	ends    *counter
	bulkGot int64
	recv    *seqTracker
	low     chan struct{}
	seq     int
	lostCh  chan struct{}
	once    sync.Once
	mu      sync.Mutex
	why     string
	closing bool
}

func newRawConn(pc *webrtc.PeerConnection) *rawConn {
	rc := &rawConn{pc: pc, acks: newCounter(), ends: newCounter(), recv: newSeqTracker(), low: make(chan struct{}, 1), lostCh: make(chan struct{})}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			rc.mu.Lock()
			rc.why = "peer connection " + st.String()
			q := rc.closing
			rc.mu.Unlock()
			if !q {
				rc.once.Do(func() { close(rc.lostCh) })
			}
		}
	})
	return rc
}

func (rc *rawConn) attach(dc *webrtc.DataChannel) {
	rc.dc = dc
	dc.SetBufferedAmountLowThreshold(rawBufferedLow)
	dc.OnBufferedAmountLow(func() {
		select {
		case rc.low <- struct{}{}:
		default:
		}
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if len(m.Data) == 0 {
			return
		}
		switch m.Data[0] {
		case rawAcked, rawUnacked:
			if seq, ok := parseSeq(m.Data[1:]); ok {
				rc.recv.add(seq)
				if m.Data[0] == rawAcked {
					ack := make([]byte, 1, 9)
					ack[0] = rawAck
					ack = binary.BigEndian.AppendUint64(ack, uint64(seq))
					dc.Send(ack)
				}
			}
		case rawAck:
			rc.acks.add(1)
		case rawBulk:
			rc.mu.Lock()
			rc.bulkGot += int64(len(m.Data))
			rc.mu.Unlock()
		case rawEnd:
			dc.Send([]byte{rawEndAck})
		case rawEndAck:
			rc.ends.add(1)
		}
	})
}

// send queues one message, waiting while more than rawBufferedHigh bytes are
// buffered (pion's flow-control example).
func (rc *rawConn) send(b []byte) error {
	for rc.dc.BufferedAmount() > rawBufferedHigh {
		select {
		case <-rc.low:
		case <-time.After(100 * time.Millisecond):
		case <-rc.lostCh:
			return errors.New("raw pion: connection lost")
		}
	}
	return rc.dc.Send(b)
}

func (rc *rawConn) sendKind(kind byte, n, size int) error {
	for i := 0; i < n; i++ {
		b := append([]byte{kind}, seqPayload(rc.seq, size-1)...)
		rc.seq++
		if err := rc.send(b); err != nil {
			return err
		}
	}
	return nil
}

func (rc *rawConn) sendN(n, size int, timeout time.Duration) error {
	base, _ := rc.acks.get()
	if err := rc.sendKind(rawAcked, n, size); err != nil {
		return err
	}
	return rc.acks.waitFor(base+int64(n), timeout, rc.lostCh)
}

func (rc *rawConn) end(timeout time.Duration) error {
	base, _ := rc.ends.get()
	if err := rc.send([]byte{rawEnd}); err != nil {
		return err
	}
	return rc.ends.waitFor(base+1, timeout, rc.lostCh)
}

func (rc *rawConn) sendUnacked(n, size int, timeout time.Duration) error {
	if err := rc.sendKind(rawUnacked, n, size); err != nil {
		return err
	}
	return rc.end(timeout)
}

func (rc *rawConn) rtt(size int, timeout time.Duration) error { return rc.sendN(1, size, timeout) }

func (rc *rawConn) bulk(size int64, timeout time.Duration) error {
	msg := make([]byte, rawBulkMessage)
	msg[0] = rawBulk
	for left := size; left > 0; left -= int64(len(msg)) {
		if err := rc.send(msg[:min(int64(len(msg)), left)]); err != nil {
			return err
		}
	}
	return rc.end(timeout)
}

func (rc *rawConn) stats() recvStats { return rc.recv.get() }
func (rc *rawConn) resetStats()      { rc.recv.reset() }

func (rc *rawConn) close() error {
	rc.mu.Lock()
	rc.closing = true
	rc.mu.Unlock()
	return rc.pc.Close()
}

func (rc *rawConn) lost() (<-chan struct{}, func() string) {
	return rc.lostCh, func() string {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return fmt.Sprint(rc.why)
	}
}
