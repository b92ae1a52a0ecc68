//go:build linux

package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// This kernel has no tc netem, so delay, jitter and reordering come from a
// router of the test's own: the router namespace sends every packet it would
// forward between the peers into a TUN device (policy routing on the input
// interface), the test reads it, holds it for its delay and writes it back,
// and the kernel forwards it on (packets from the TUN device use the main
// routing table). Jitter changes each packet's delay without reordering
// (see run); a small fraction of packets is held back to reorder them.

const (
	tunSetIff = 0x400454ca // TUNSETIFF
	iffTun    = 0x0001
	iffNoPI   = 0x1000
)

// delayRouter holds packets between the peers.
type delayRouter struct {
	f        *os.File
	delay    time.Duration // one way
	jitter   time.Duration // uniform in [-jitter, +jitter]
	reorder  float64       // probability that a packet is held back by "by"
	by       time.Duration
	packets  atomic.Int64
	reorders atomic.Int64
	wg       sync.WaitGroup
}

// addDelayRouter makes the router namespace of n delay every forwarded packet.
func (n *net2) addDelayRouter(delay, jitter time.Duration, reorder float64, by time.Duration) *delayRouter {
	t := n.t
	t.Helper()
	name := "rtf" + n.id + "t"
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no TUN device for the delaying router: %v", err)
	}
	var ifr [40]byte
	copy(ifr[:16], name)
	*(*uint16)(unsafe.Pointer(&ifr[16])) = iffTun | iffNoPI
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		syscall.Close(fd)
		t.Skipf("TUNSETIFF: %v", e)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	d := &delayRouter{f: os.NewFile(uintptr(fd), name), delay: delay, jitter: jitter, reorder: reorder, by: by}
	// Runs before the namespaces are deleted (cleanups run last first):
	// closing the only descriptor destroys the device.
	t.Cleanup(func() {
		d.f.Close()
		d.wg.Wait()
	})
	sh(t, "ip", "link", "set", name, "netns", n.r)
	inNS(t, n.r, "ip", "link", "set", name, "up")
	for _, k := range []string{"all", "default", name} {
		inNS(t, n.r, "sysctl", "-qw", fmt.Sprintf("net.ipv4.conf.%s.rp_filter=0", k))
	}
	inNS(t, n.r, "ip", "route", "add", "default", "dev", name, "table", "100")
	for _, in := range []string{"rtf" + n.id + "ra", "rtf" + n.id + "rb"} {
		inNS(t, n.r, "ip", "rule", "add", "iif", in, "lookup", "100")
	}
	d.wg.Add(1)
	go d.run()
	return d
}

// run reads packets and schedules them. Jitter varies each packet's delay
// but, as on a real path where packets share queues, never lets one overtake
// the packet before it; a fraction d.reorder of packets is held back an
// extra d.by outside that order, so later packets overtake them.
func (d *delayRouter) run() {
	defer d.wg.Done()
	type held struct {
		due time.Time
		pkt []byte
	}
	fifo := make(chan held, 1<<16)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for h := range fifo {
			time.Sleep(time.Until(h.due))
			d.f.Write(h.pkt) // fails only once the test closed the device
		}
	}()
	defer close(fifo)
	var last time.Time
	buf := make([]byte, 65536)
	for {
		k, err := d.f.Read(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:k]...)
		due := time.Now().Add(d.delay)
		if d.jitter > 0 {
			due = due.Add(time.Duration(rand.Int64N(int64(2*d.jitter))) - d.jitter)
		}
		d.packets.Add(1)
		if rand.Float64() < d.reorder {
			d.reorders.Add(1)
			d.wg.Add(1)
			time.AfterFunc(time.Until(due.Add(d.by)), func() {
				defer d.wg.Done()
				d.f.Write(pkt)
			})
			continue
		}
		if due.Before(last) {
			due = last
		}
		last = due
		select {
		case fifo <- held{due, pkt}:
		default: // a full queue drops, as a router's would
		}
	}
}
